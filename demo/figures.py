"""The pictures of one prediction as HTML: coloured PNG images, SVG lines and HTML axes.

Arrays are coloured through look-up tables (`colours.py`) and laid out with CSS grid, so drawing all of
them takes milliseconds, text stays readable at any width and nothing is cropped on a phone: the
images stretch, the tick labels do not. Axes are in seconds and Hz, and every colour has a scale.
"""

import html
from functools import lru_cache

import numpy as np

from agegender import ModelConfig, Prediction
from agegender.features import mel_frequencies

from .colours import blend, colour, css_gradient, png_data_uri, scaled

SPEC_CMAP = "magma"
GATE_CMAP = "inferno"
GRADCAM_CMAP = "jet"
PROB_CMAP = "Blues"
ATTENTION_COLOR = "#2a9d8f"
TOP_COLOR = "#e76f51"
DB_RANGE = 80.0  # an 80 dB range shows speech without the numeric floor
HZ_TICKS = [200, 500, 1000, 2000, 4000, 8000]
TIME_STEPS = [0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60]
MAX_LINE_POINTS = 800
TASK_TITLES = {"gender": "Gender", "age": "Age group", "age_gender": "Age and gender"}

CSS = """
.ag-fig { margin: 0 0 .6rem; font-size: 12px; line-height: 1.2; }
.ag-fig figcaption { font-weight: 600; margin-bottom: .35rem; font-size: 13px; }
.ag-grid { display: grid; grid-template-columns: 1.4em 2.7em minmax(0, 1fr) 4.2em; column-gap: 2px;
  grid-template-rows: 210px 58px auto auto; }
.ag-grid.ag-no-side { grid-template-columns: 1.4em 2.7em minmax(0, 1fr) 0; grid-template-rows: 210px auto auto; }
.ag-main, .ag-strip, .ag-side { position: relative; min-height: 0; overflow: hidden; }
.ag-main img, .ag-main svg, .ag-strip svg, .ag-side svg { position: absolute; inset: 0; width: 100%; height: 100%;
  display: block; }
.ag-strip, .ag-side { border: 1px solid #ccc; box-sizing: border-box; }
.ag-strip { border-top: 0; } .ag-side { border-left: 0; }
.ag-ylab { writing-mode: vertical-rl; transform: rotate(180deg); text-align: center; font-size: 11px;
  white-space: nowrap; overflow: visible; }
.ag-yt, .ag-xt { position: relative; font-size: 11px; color: #555; }
.ag-yt span { position: absolute; right: 3px; transform: translateY(-50%); white-space: nowrap; }
.ag-xt { height: 1.35em; }
.ag-xt span { position: absolute; top: 2px; transform: translateX(-50%); white-space: nowrap; }
.ag-xt span.ag-first { transform: none; } .ag-xt span.ag-last { transform: translateX(-100%); }
.ag-xlab { text-align: center; font-size: 11px; }
.ag-sidelab { font-size: 10px; text-align: center; color: #333; padding-top: 2px; }
.ag-bar { display: grid; grid-template-columns: auto minmax(0, 16em); justify-content: start; align-items: center;
  column-gap: .6em;
  margin: .45rem 0 0 4.1em; font-size: 11px; }
.ag-bar .ag-ramp { height: 10px; border: 1px solid #999; }
.ag-bar .ag-xt { height: 1.3em; }
.ag-tl { display: grid; grid-template-columns: 7.5em minmax(0, 1fr); column-gap: 4px; margin-bottom: 4px; }
.ag-tl .ag-names { display: flex; flex-direction: column; font-size: 11px; text-align: right; }
.ag-tl .ag-names span { flex: 1; display: flex; align-items: center; justify-content: flex-end; }
.ag-tl .ag-task { font-weight: 600; font-size: 11px; margin: .3rem 0 .1rem 7.9em; }
.ag-tl svg { width: 100%; display: block; border: 1px solid #ccc; box-sizing: border-box; }
.ag-tl .ag-xt { grid-column: 2; }
.ag-key { font-size: 11px; margin: .2rem 0 0 7.9em; }
.ag-key i { display: inline-block; width: 10px; height: 10px; border: 2px solid #e76f51; vertical-align: -2px; }
.ag-empty { color: #666; font-style: italic; padding: 1rem 0; }
@media (max-width: 600px) {
  .ag-grid { grid-template-columns: 1.3em 2.4em minmax(0, 1fr) 3.2em; grid-template-rows: 150px 46px auto auto; }
  .ag-grid.ag-no-side { grid-template-columns: 1.3em 2.4em minmax(0, 1fr) 0; grid-template-rows: 150px auto auto; }
  .ag-bar { margin-left: 0; }
}
"""


# -- axes -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _centres(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    return mel_frequencies(ModelConfig(n_mels=n_mels, f_min=f_min, f_max=f_max))


def _band_centres(config: ModelConfig) -> np.ndarray:
    return _centres(config.n_mels, config.f_min, config.f_max)


def _hz_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


def hz_ticks(config: ModelConfig) -> list[tuple[str, float]]:
    """(label, % from the top) for the mel-band axis, where band i fills [i, i+1) of n_mels."""
    freqs = _band_centres(config)
    bands = np.arange(len(freqs)) + 0.5
    return [(_hz_label(hz), 100.0 * (1.0 - float(np.interp(hz, freqs, bands)) / len(freqs)))
            for hz in HZ_TICKS if freqs[0] <= hz <= freqs[-1]]  # fmt: skip


def time_ticks(seconds: float, start: float = 0.0, max_ticks: int = 7) -> list[tuple[str, float]]:
    """(label, % from the left) for a time axis from `start` to `start + seconds`."""
    seconds = max(seconds, 1e-3)
    step = next((s for s in TIME_STEPS if seconds / s <= max_ticks), TIME_STEPS[-1])
    first = np.ceil(start / step - 1e-9) * step
    values = np.arange(first, start + seconds + 1e-9, step)
    return [(f"{v + 0.0:g}", 100.0 * (v - start) / seconds) for v in np.round(values, 3)]


def _y_axis(ticks: list[tuple[str, float]]) -> str:
    return "".join(f'<span style="top:{top:.2f}%">{label}</span>' for label, top in ticks)


def _x_axis(ticks: list[tuple[str, float]]) -> str:
    spans = []
    for label, left in ticks:
        edge = " class=\"ag-first\"" if left < 2 else (" class=\"ag-last\"" if left > 98 else "")
        spans.append(f'<span{edge} style="left:{left:.2f}%">{label}</span>')
    return f'<div class="ag-xt">{"".join(spans)}</div>'


def colour_bar(cmap: str, vmin: float, vmax: float, label: str, fmt: str = "{:g}") -> str:
    """A horizontal colour scale with its label and end values."""
    ticks = [(fmt.format(v), 100.0 * (v - vmin) / (vmax - vmin)) for v in np.linspace(vmin, vmax, 5)]
    return (
        f'<div class="ag-bar"><span>{html.escape(label)}</span><div><div class="ag-ramp" '
        f'style="background:{css_gradient(cmap)}"></div>{_x_axis(ticks)}</div></div>'
    )


def _points(values: np.ndarray) -> np.ndarray:
    """At most MAX_LINE_POINTS samples of a line (block maxima keep the peaks)."""
    n = len(values)
    if n <= MAX_LINE_POINTS:
        return np.asarray(values, dtype=np.float32)
    block = int(np.ceil(n / MAX_LINE_POINTS))
    pad = np.pad(values, (0, block * int(np.ceil(n / block)) - n), mode="edge")
    return pad.reshape(-1, block).max(1)


def line_svg(values: np.ndarray, vertical: bool = False) -> str:
    """A filled 0..1 line: along time (left to right) or along frequency (bottom to top, value to the right)."""
    v = np.clip(_points(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    n = len(v)
    pos = np.arange(n) + 0.5
    if vertical:
        xy = np.stack([v, n - pos], 1)
        box, area = f"0 0 1 {n}", f"M0,{n} " + " ".join(f"L{x:.3f},{y:.2f}" for x, y in xy) + " L0,0 Z"
    else:
        xy = np.stack([pos, 1.0 - v], 1)
        box, area = f"0 0 {n} 1", "M0,1 " + " ".join(f"L{x:.2f},{y:.3f}" for x, y in xy) + f" L{n},1 Z"
    line = " ".join(f"{x:.3f},{y:.3f}" for x, y in xy)
    return (
        f'<svg viewBox="{box}" preserveAspectRatio="none" aria-hidden="true">'
        f'<path d="{area}" fill="{ATTENTION_COLOR}" fill-opacity="0.3"/>'
        f'<polyline points="{line}" fill="none" stroke="{ATTENTION_COLOR}" stroke-width="1.5" '
        f'vector-effect="non-scaling-stroke"/></svg>'
    )


# -- the figures ----------------------------------------------------------------------------------------


def _db_range(spec: np.ndarray) -> tuple[float, float]:
    vmax = float(spec.max())
    return max(float(spec.min()), vmax - DB_RANGE), vmax


def spectrogram_rgb(spec: np.ndarray, cmap: str = SPEC_CMAP) -> np.ndarray:
    vmin, vmax = _db_range(spec)
    return colour(scaled(spec, vmin, vmax), cmap)


def _figure(caption: str, body: str, kind: str) -> str:
    return f'<figure class="ag-fig" data-figure="{kind}"><figcaption>{html.escape(caption)}</figcaption>{body}</figure>'


def maps_figure(pred: Prediction, config: ModelConfig, caption: str | None = None, start: float = 0.0,
                time_label: str = "Time (s)") -> str:  # fmt: skip
    """The spectrogram, with the time-attention map under it and the frequency-attention map beside it."""
    spec = pred.spectrogram
    seconds = spec.shape[1] * config.frame_seconds
    gated = pred.time_attention is not None and pred.freq_attention is not None
    vmin, vmax = _db_range(spec)
    image = png_data_uri(colour(scaled(spec, vmin, vmax), SPEC_CMAP))
    x_axis = _x_axis(time_ticks(seconds, start))
    cells = [
        '<div class="ag-ylab" style="grid-area:1/1">Frequency (Hz)</div>',
        f'<div class="ag-yt" style="grid-area:1/2">{_y_axis(hz_ticks(config))}</div>',
        f'<div class="ag-main" style="grid-area:1/3"><img src="{image}" alt="log-mel spectrogram"></div>',
    ]
    if gated:
        caption = caption or "Log-mel spectrogram of the analysed speech (silence trimmed) and the attention gates"
        cells += [
            f'<div class="ag-side" style="grid-area:1/4">{line_svg(pred.freq_attention, vertical=True)}</div>',
            '<div class="ag-sidelab" style="grid-area:2/4">Frequency attention (0-1)</div>',
            '<div class="ag-ylab" style="grid-area:2/1">Time att.</div>',
            f'<div class="ag-yt" style="grid-area:2/2">{_y_axis([("1", 3), ("0.5", 50), ("0", 97)])}</div>',
            f'<div class="ag-strip" style="grid-area:2/3">{line_svg(pred.time_attention)}</div>',
            f'<div style="grid-area:3/3">{x_axis}</div>',
            f'<div class="ag-xlab" style="grid-area:4/3">{time_label}</div>',
        ]
        grid = "ag-grid"
    else:
        caption = caption or "Log-mel spectrogram (this model variant has no explicit attention maps)"
        cells += [f'<div style="grid-area:2/3">{x_axis}</div>', f'<div class="ag-xlab" style="grid-area:3/3">{time_label}</div>']
        grid = "ag-grid ag-no-side"
    body = f'<div class="{grid}">{"".join(cells)}</div>' + colour_bar(SPEC_CMAP, vmin, vmax, "Power (dB)", "{:.0f}")
    return _figure(caption, body, "maps")


def attention_overlay(pred: Prediction) -> np.ndarray | None:
    """Time x frequency attention as one (n_mels, frames) map in [0, 1], or None without attention."""
    if pred.time_attention is None or pred.freq_attention is None:
        return None
    return np.outer(pred.freq_attention, pred.time_attention)


def heat_figure(pred: Prediction, config: ModelConfig, heat: np.ndarray, cmap: str, caption: str,
                bar_label: str, kind: str) -> str:  # fmt: skip
    """A 0..1 map of (n_mels, frames) laid over a grey spectrogram, with its axes and colour scale."""
    spec = pred.spectrogram
    grey = spectrogram_rgb(spec, "gray")
    image = png_data_uri(blend(grey, colour(np.clip(heat, 0.0, 1.0), cmap), 0.55))
    seconds = spec.shape[1] * config.frame_seconds
    body = (
        '<div class="ag-grid ag-no-side">'
        '<div class="ag-ylab" style="grid-area:1/1">Frequency (Hz)</div>'
        f'<div class="ag-yt" style="grid-area:1/2">{_y_axis(hz_ticks(config))}</div>'
        f'<div class="ag-main" style="grid-area:1/3"><img src="{image}" alt="{html.escape(bar_label)}"></div>'
        f'<div style="grid-area:2/3">{_x_axis(time_ticks(seconds))}</div>'
        '<div class="ag-xlab" style="grid-area:3/3">Time (s)</div></div>'
    )
    return _figure(caption, body + colour_bar(cmap, 0.0, 1.0, bar_label), kind)


def overlay_figure(pred: Prediction, config: ModelConfig) -> str | None:
    """Both attention gates (their product) over a grey spectrogram; None for ungated models."""
    joint = attention_overlay(pred)
    if joint is None:
        return None
    return heat_figure(pred, config, joint, GATE_CMAP, "Attention gates: time x frequency over the spectrogram",
                       "Gate weight (time x frequency)", "overlay")  # fmt: skip


def gradcam_figure(pred: Prediction, config: ModelConfig, cam: np.ndarray | None, label: str) -> str:
    """Grad-CAM of one label over a grey spectrogram (or a note when nothing speaks for it)."""
    caption = f"Grad-CAM: where the evidence for \u201c{label}\u201d is"
    if cam is None:
        return _figure(caption, f'<p class="ag-empty">Nothing in this clip raises the probability of '
                                f'\u201c{html.escape(label)}\u201d.</p>', "gradcam")  # fmt: skip
    return heat_figure(pred, config, cam, GRADCAM_CMAP, caption, "Grad-CAM (relative to its maximum)", "gradcam")


def timeline_figure(pred: Prediction, tasks: list[str] | None = None) -> str | None:
    """Per-window class probabilities over time, one block per task (None without windows)."""
    if not pred.windows:
        return None
    tasks = [t for t in (tasks or ["gender", "age"]) if t in pred.probabilities] or list(pred.probabilities)[:2]
    starts = np.array([w.start for w in pred.windows])
    ends = np.array([w.end for w in pred.windows])
    centres = (starts + ends) / 2  # windows overlap: each is drawn between the midpoints to its neighbours
    edges = np.concatenate([[starts[0]], (centres[:-1] + centres[1:]) / 2, [ends[-1]]])
    total = float(edges[-1] - edges[0]) or 1.0
    blocks = []
    for task in tasks:
        labels = list(pred.probabilities[task])
        matrix = np.array([[w.probabilities[task][label] for w in pred.windows] for label in labels])
        fills = colour(np.clip(matrix, 0, 1), PROB_CMAP)
        rects = []
        for j in range(len(pred.windows)):
            x, width = edges[j] - edges[0], edges[j + 1] - edges[j]
            best = int(matrix[:, j].argmax())
            for i in range(len(labels)):
                r, g, b = fills[i, j]
                rects.append(f'<rect x="{x:.3f}" y="{i}" width="{width:.3f}" height="1" fill="#{r:02x}{g:02x}{b:02x}">'
                             f"<title>{html.escape(labels[i])}: {matrix[i, j]:.0%}</title></rect>")  # fmt: skip
            rects.append(f'<rect x="{x:.3f}" y="{best}" width="{width:.3f}" height="1" fill="none" '
                         f'stroke="{TOP_COLOR}" stroke-width="2" vector-effect="non-scaling-stroke"/>')  # fmt: skip
        names = "".join(f"<span>{html.escape(label)}</span>" for label in labels)
        blocks.append(
            f'<div class="ag-task">{TASK_TITLES.get(task, task)}</div><div class="ag-tl">'
            f'<div class="ag-names" style="height:{16 * len(labels)}px">{names}</div>'
            f'<svg viewBox="0 0 {total:.3f} {len(labels)}" preserveAspectRatio="none" '
            f'style="height:{16 * len(labels)}px">{"".join(rects)}</svg></div>'
        )
    overlap = " (windows overlap)" if len(pred.windows) > 1 else " (the clip is one window)"
    caption = f"Prediction per {ends[0] - starts[0]:.2f} s analysis window{overlap}"
    axis = f'<div class="ag-tl"><div></div>{_x_axis(time_ticks(total, float(edges[0])))}</div>'
    body = (
        "".join(blocks) + axis + '<div class="ag-xlab" style="margin-left:7.9em">Time (s)</div>'
        '<div class="ag-key"><i></i> most likely in each window</div>'
        + colour_bar(PROB_CMAP, 0.0, 1.0, "Probability")
    )
    return _figure(caption, body, "timeline")
