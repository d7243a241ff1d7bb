"""Matplotlib figures of one prediction: spectrogram, attention maps, overlay and window timeline.

Every figure is a `matplotlib.figure.Figure` made without pyplot (Agg canvas), so nothing is kept in a
global figure registry; `render_png` turns one into PNG bytes. Axes are in seconds and Hz.
"""

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.gridspec import GridSpec  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter  # noqa: E402

from .classifier import Prediction  # noqa: E402
from .config import ModelConfig  # noqa: E402
from .features import mel_frequencies  # noqa: E402

SPEC_CMAP = "magma"
ATTENTION_CMAP = "viridis"
OVERLAY_CMAP = "inferno"
ATTENTION_COLOR = "#2a9d8f"
DPI = 110
HZ_TICKS = [200, 500, 1000, 2000, 4000, 8000, 16000]
TASK_TITLES = {"gender": "Gender", "age": "Age group", "age_gender": "Age and gender"}


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def render_png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _hz_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


def _mel_axis(axis, config: ModelConfig) -> None:
    """Label a mel-band axis (band index units) in Hz."""
    freqs = mel_frequencies(config)
    bands = np.arange(len(freqs))
    ticks = [hz for hz in HZ_TICKS if freqs[0] <= hz <= freqs[-1]]
    axis.set_major_locator(FixedLocator(np.interp(ticks, freqs, bands)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _hz_label(float(np.interp(v, bands, freqs)))))


def _spectrogram(ax, pred: Prediction, config: ModelConfig, cmap: str = SPEC_CMAP, alpha: float = 1.0):
    spec = pred.spectrogram
    seconds = spec.shape[1] * config.frame_seconds
    vmax = float(spec.max())
    vmin = max(float(spec.min()), vmax - 80.0)  # an 80 dB range shows speech without the numeric floor
    image = ax.imshow(
        spec, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha,
        extent=(0.0, seconds, -0.5, spec.shape[0] - 0.5), interpolation="nearest",
    )  # fmt: skip
    _mel_axis(ax.yaxis, config)
    ax.set_ylabel("Frequency (Hz)")
    return image


def spectrogram_figure(pred: Prediction, config: ModelConfig) -> Figure:
    """The spectrogram, with the time-attention map aligned under it and the frequency map beside it."""
    gated = pred.time_attention is not None and pred.freq_attention is not None
    fig = new_figure(9.0, 4.6 if gated else 3.6)
    if not gated:
        ax = fig.add_subplot()
        image = _spectrogram(ax, pred, config)
        ax.set_xlabel("Time (s)")
        ax.set_title("Log-mel spectrogram (this model variant has no explicit attention maps)", fontsize=10)
        fig.colorbar(image, ax=ax, label="Power (dB)", pad=0.01)
        return fig

    grid = GridSpec(2, 3, figure=fig, width_ratios=[1, 0.16, 0.025], height_ratios=[1, 0.3])
    ax_spec = fig.add_subplot(grid[0, 0])
    ax_time = fig.add_subplot(grid[1, 0], sharex=ax_spec)
    ax_freq = fig.add_subplot(grid[0, 1], sharey=ax_spec)
    ax_bar = fig.add_subplot(grid[0, 2])

    image = _spectrogram(ax_spec, pred, config)
    ax_spec.set_title("Log-mel spectrogram of the analysed speech (silence trimmed)", fontsize=10)
    ax_spec.tick_params(labelbottom=False)
    fig.colorbar(image, cax=ax_bar, label="Power (dB)")

    time_map = pred.time_attention
    t = (np.arange(len(time_map)) + 0.5) * config.frame_seconds
    ax_time.fill_between(t, 0, time_map, color=ATTENTION_COLOR, alpha=0.35, linewidth=0)
    ax_time.plot(t, time_map, color=ATTENTION_COLOR, linewidth=1.2)
    ax_time.set_ylim(0, 1.02)
    ax_time.set_yticks([0, 0.5, 1])
    ax_time.set_xlabel("Time (s)")
    ax_time.set_ylabel("Time\nattention", fontsize=9)
    ax_time.grid(alpha=0.3)

    freq_map = pred.freq_attention
    bands = np.arange(len(freq_map))
    ax_freq.fill_betweenx(bands, 0, freq_map, color=ATTENTION_COLOR, alpha=0.35, linewidth=0)
    ax_freq.plot(freq_map, bands, color=ATTENTION_COLOR, linewidth=1.2)
    ax_freq.set_xlim(0, 1.02)
    ax_freq.set_xticks([0, 0.5, 1])
    ax_freq.xaxis.set_label_position("top")
    ax_freq.xaxis.tick_top()
    ax_freq.set_xlabel("Frequency\nattention", fontsize=9)
    ax_freq.tick_params(labelleft=False, labelsize=8)
    ax_freq.grid(alpha=0.3)
    return fig


def attention_overlay(pred: Prediction) -> np.ndarray | None:
    """Time x frequency attention as one (n_mels, frames) map in [0, 1], or None without attention."""
    if pred.time_attention is None or pred.freq_attention is None:
        return None
    return np.outer(pred.freq_attention, pred.time_attention)


def overlay_figure(pred: Prediction, config: ModelConfig) -> Figure | None:
    """Both attention maps (their product) laid over a grey spectrogram; None for ungated models."""
    joint = attention_overlay(pred)
    if joint is None:
        return None
    fig = new_figure(9.0, 3.4)
    ax = fig.add_subplot()
    _spectrogram(ax, pred, config, cmap="gray")
    seconds = pred.spectrogram.shape[1] * config.frame_seconds
    image = ax.imshow(
        joint, origin="lower", aspect="auto", cmap=OVERLAY_CMAP, vmin=0.0, vmax=1.0, alpha=0.55,
        extent=(0.0, seconds, -0.5, joint.shape[0] - 0.5), interpolation="bilinear",
    )  # fmt: skip
    ax.set_xlabel("Time (s)")
    ax.set_title("Where the model looked: time attention x frequency attention over the spectrogram", fontsize=10)
    fig.colorbar(image, ax=ax, label="Attention (time x frequency)", pad=0.01)
    return fig


def timeline_figure(pred: Prediction, tasks: list[str] | None = None) -> Figure | None:
    """Per-window class probabilities over time, one row per task (None without windows)."""
    if not pred.windows:
        return None
    tasks = [t for t in (tasks or ["gender", "age"]) if t in pred.probabilities] or list(pred.probabilities)[:2]
    heights = [max(1.0, 0.32 * len(pred.probabilities[t])) for t in tasks]
    fig = new_figure(9.0, 0.9 + sum(heights))
    grid = GridSpec(len(tasks), 2, figure=fig, height_ratios=heights, width_ratios=[1, 0.025])
    starts = np.array([w.start for w in pred.windows])
    ends = np.array([w.end for w in pred.windows])
    # Windows overlap: draw each between the midpoints to its neighbours' centres.
    centres = (starts + ends) / 2
    edges = np.concatenate([[starts[0]], (centres[:-1] + centres[1:]) / 2, [ends[-1]]])
    image, first = None, None
    for row, task in enumerate(tasks):
        ax = fig.add_subplot(grid[row, 0], sharex=first)
        first = first or ax
        labels = list(pred.probabilities[task])
        matrix = np.array([[w.probabilities[task][label] for w in pred.windows] for label in labels])
        image = ax.pcolormesh(edges, np.arange(len(labels) + 1) - 0.5, matrix, cmap="Blues", vmin=0, vmax=1)
        top = matrix.argmax(0)
        ax.scatter(centres, top, marker="o", s=14, color="#e76f51", zorder=3,
                   label="most likely" if row == 0 else None)  # fmt: skip
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel(TASK_TITLES.get(task, task), fontsize=9)
        if row < len(tasks) - 1:
            ax.tick_params(labelbottom=False)
    overlap = " (windows overlap)" if len(pred.windows) > 1 else " (the clip is one window)"
    first.set_title(f"Prediction per {ends[0] - starts[0]:.2f} s analysis window{overlap}", fontsize=10)
    first.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set_xlabel("Time (s)")
    fig.colorbar(image, cax=fig.add_subplot(grid[:, 1]), label="Probability")
    return fig
