"""The functions behind the Gradio demo (`app.py` only wires them into a page).

`Demo` holds the one classifier loaded at start. `Demo.classify` turns a recording into what the page
shows (summary sentence, label dicts, figures), `Demo.predict` into plain JSON for API clients. Audio
problems get a person-readable message (a `gr.Warning` and the summary line in the page, a `gr.Error`
for API clients); an unexpected failure is logged and shown as a generic message, never as a trace.
"""

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from . import plots
from .audio import AudioError, NoSpeechError, TooLongError, TooShortError
from .classifier import BUNDLED_MODEL, AgeGenderClassifier, Prediction

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # longest clip the demo accepts
MAX_FILE_SIZE = "10mb"  # largest upload the server accepts
CONCURRENCY_LIMIT = 2  # requests analysed at the same time
QUEUE_SIZE = 20  # requests waiting beyond that
NO_AUDIO_MESSAGE = "Record a clip with the microphone or upload an audio file first."
GENERIC_ERROR = "Something went wrong while analysing this clip. Please try again or use another recording."
TASKS = ("gender", "age", "age_gender")
TASK_TITLES = {"gender": "Gender", "age": "Age group", "age_gender": "Age and gender"}
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro F1",
    "uar": "UAR",
    "majority_accuracy": "Majority accuracy",
    "majority_macro_f1": "Majority macro F1",
}


# -- the model card ----------------------------------------------------------------------------------


@dataclass
class ModelFacts:
    """What the page says about the loaded model: where it came from and how well it was measured."""

    source: str
    metrics: dict | None = None  # checkpoints' metrics.json, when the model has one
    card: str = ""  # the model card (README.md) text, when there is one

    @property
    def placeholder(self) -> bool:
        """True when there is no measured accuracy: the model must not be trusted."""
        return not (self.metrics or {}).get("tasks")

    @property
    def limitations(self) -> str:
        """The model card's 'Limitations' section, if it has one."""
        match = re.search(r"^(#+)\s*[^\n]*limit[^\n]*\n(.*?)(?=^#{1,%d}\s|\Z)" % 6, self.card, re.I | re.M | re.S)
        return match.group(2).strip() if match else ""


def _model_file(source: str, name: str) -> Path | None:
    """A file beside the weights: in a local directory, or fetched from the Hub (None if absent)."""
    if os.path.isdir(source):
        path = Path(source) / name
        return path if path.is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(source, name))
    except Exception:  # absent file, offline, private repo...: the page just says there are no metrics
        return None


def model_facts(source: str) -> ModelFacts:
    metrics_path, card_path = _model_file(source, "metrics.json"), _model_file(source, "README.md")
    metrics = None
    if metrics_path is not None:
        try:
            metrics = json.loads(metrics_path.read_text())
        except (OSError, ValueError):
            log.warning("unreadable %s", metrics_path)
    card = card_path.read_text(errors="replace") if card_path is not None else ""
    return ModelFacts(source=source, metrics=metrics if isinstance(metrics, dict) else None, card=card)


def _percent(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and 0 <= value <= 1 else str(value)


def metrics_markdown(facts: ModelFacts) -> str:
    """The measured accuracy as a table, or a plain warning when the model has none."""
    if facts.placeholder:
        return (
            "**No measured accuracy: this is an untrained placeholder model.** Its predictions are random; "
            "the page shows how the pipeline works, not what your voice sounds like. A trained model with "
            "its test results replaces it in `checkpoints/` (or load one with `--model`)."
        )
    tasks = facts.metrics["tasks"]
    columns = [key for key in METRIC_NAMES if any(key in m for m in tasks.values())]
    lines = [
        "| Task | " + " | ".join(METRIC_NAMES[c] for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for task, values in sorted(tasks.items(), key=lambda kv: TASKS.index(kv[0]) if kv[0] in TASKS else len(TASKS)):
        lines.append(f"| {TASK_TITLES.get(task, task)} | " + " | ".join(_percent(values.get(c, "")) for c in columns) + " |")
    split = facts.metrics.get("split")
    head = f"Measured on the **{split}** split:" if split else "Measured accuracy:"
    note = (
        "UAR is the unweighted average recall (balanced accuracy); the majority columns score a model that "
        "always answers the most common training class."
    )
    return head + "\n\n" + "\n".join(lines) + "\n\n" + note


# -- turning a prediction into what the page shows -------------------------------------------------------


def task_probabilities(pred: Prediction) -> dict[str, dict[str, float]]:
    """Probabilities per task; gender and age are summed from the joint task when the model lacks them."""
    probs = {t: dict(p) for t, p in pred.probabilities.items()}
    joint = probs.get("age_gender")
    if joint and all(label.count("-") == 1 for label in joint):
        for task, part in (("gender", 0), ("age", 1)):
            if task not in probs:
                marginal: dict[str, float] = {}
                for label, p in joint.items():
                    key = label.split("-")[part]
                    marginal[key] = marginal.get(key, 0.0) + p
                probs[task] = marginal
    return probs


def low_confidence_threshold(n_classes: int) -> float:
    """Top probability below this is called low confidence: 30% of the way from chance to certainty.

    0.65 for two genders, about 0.42 for six age groups, about 0.36 for twelve joint classes.
    """
    chance = 1.0 / max(n_classes, 1)
    return chance + 0.3 * (1.0 - chance)


def is_low_confidence(probabilities: dict[str, float]) -> bool:
    return max(probabilities.values()) < low_confidence_threshold(len(probabilities))


def _top(probabilities: dict[str, float]) -> tuple[str, float]:
    label = max(probabilities, key=probabilities.get)
    return label, probabilities[label]


def summary_sentence(pred: Prediction, placeholder: bool = False) -> str:
    """One plain-language line: the most likely speaker and how sure the model is."""
    probs = task_probabilities(pred)
    parts, sureness, unsure = [], [], []
    for task in ("gender", "age"):
        if task not in probs:
            continue
        label, p = _top(probs[task])
        low = is_low_confidence(probs[task])
        unsure += [task] if low else []
        parts.append(f"a **{label}** voice" if task == "gender" else f"the **{label}** age group")
        sureness.append(f"{TASK_TITLES[task].lower()} {p:.0%}" + (" - low confidence" if low else ""))
    if not parts and probs:  # a model with other tasks only
        task = next(iter(probs))
        label, p = _top(probs[task])
        parts.append(f"**{label}**")
        sureness.append(f"{p:.0%}")
        unsure += [task] if is_low_confidence(probs[task]) else []
    if len(parts) == 2:
        what = f"{parts[0]} in {parts[1]}"
    else:
        what = parts[0] if parts else "nothing"
    lead = "The model is unsure; it leans towards" if unsure else "Most likely"
    line = f"{lead} {what} (confidence: {', '.join(sureness)})."
    if placeholder:
        line = "Untrained placeholder model, so this is a random guess. " + line
    return line


def label_values(pred: Prediction) -> dict[str, dict[str, float] | None]:
    """For each of gender, age and age_gender: the `gr.Label` value, or None if the model has no such task."""
    probs = task_probabilities(pred)
    return {task: probs.get(task) for task in TASKS}


def error_message(exc: BaseException) -> str:
    """The sentence shown in the page for a failed analysis."""
    if isinstance(exc, AudioError):
        text = str(exc).strip() or "the audio cannot be analysed"
        text = text[0].upper() + text[1:]
        hint = ""
        if isinstance(exc, NoSpeechError):
            hint = " Speak closer to the microphone, or check that the right microphone is selected."
        elif isinstance(exc, TooShortError):
            hint = " Record at least a second or two of speech."
        elif isinstance(exc, TooLongError):
            hint = " Trim the clip, or record a shorter one."
        return f"Cannot analyse this audio: {text}.{hint}"
    return GENERIC_ERROR


# -- the analysis ----------------------------------------------------------------------------------------


@dataclass
class Analysis:
    prediction: Prediction
    summary: str
    labels: dict[str, dict[str, float] | None]
    spectrogram: object  # matplotlib Figure
    overlay: object | None
    timeline: object | None
    timings: dict[str, float] = field(default_factory=dict)  # seconds: load, predict, plot (building figures)


def _audio_source(audio) -> tuple[object, int | None]:
    """Gradio's audio value (a file path, or (rate, samples) in numpy mode) as a `clf.load` argument."""
    if audio is None or (isinstance(audio, str) and not audio):
        raise gr.Error(NO_AUDIO_MESSAGE, title="No audio", print_exception=False)
    if isinstance(audio, dict):  # FileData-like dict from an API client
        audio = audio.get("path") or audio.get("name")
    if isinstance(audio, (tuple, list)) and len(audio) == 2 and isinstance(audio[1], np.ndarray):
        rate, samples = audio
        return samples, int(rate)
    return audio, None


class Demo:
    """The loaded model and the callbacks of the page."""

    def __init__(self, classifier: AgeGenderClassifier, max_seconds: float = MAX_SECONDS,
                 facts: ModelFacts | None = None):  # fmt: skip
        self.clf = classifier
        self.max_seconds = max_seconds
        self.facts = facts or model_facts(getattr(classifier, "source", ""))

    @classmethod
    def load(cls, model: str | None = None, max_seconds: float = MAX_SECONDS) -> "Demo":
        """Load the model once: a Hub id or directory, else $AGEGENDER_MODEL, else the bundled checkpoint."""
        return cls(AgeGenderClassifier.from_pretrained(model), max_seconds)

    @property
    def tasks(self) -> list[str]:
        """The label boxes the page shows (joint-task models also get gender and age)."""
        tasks = set(self.clf.config.tasks)
        if "age_gender" in tasks:
            tasks |= {"gender", "age"}
        return [t for t in TASKS if t in tasks]

    def prediction(self, audio) -> tuple[Prediction, dict[str, float]]:
        """Decode, check and classify; raises AudioError for bad audio."""
        source, rate = _audio_source(audio)
        start = time.perf_counter()
        wave = self.clf.load(source, rate, max_seconds=self.max_seconds)
        loaded = time.perf_counter()
        pred = self.clf.classify_waveforms([wave])[0]
        done = time.perf_counter()
        return pred, {"load": loaded - start, "predict": done - loaded}

    def analyse(self, audio) -> Analysis:
        """Everything the page shows, from one forward pass."""
        pred, timings = self.prediction(audio)
        start = time.perf_counter()
        config = self.clf.config
        analysis = Analysis(
            prediction=pred,
            summary=summary_sentence(pred, self.facts.placeholder),
            labels=label_values(pred),
            spectrogram=plots.spectrogram_figure(pred, config),
            overlay=plots.overlay_figure(pred, config),
            timeline=plots.timeline_figure(pred),
        )
        timings["plot"] = time.perf_counter() - start
        analysis.timings = timings
        log.info("analysed %.1f s of speech: load %.0f ms, predict %.0f ms, build figures %.0f ms", pred.duration,
                 *(1000 * timings[k] for k in ("load", "predict", "plot")))  # fmt: skip
        return analysis

    def _guarded(self, fn, audio):
        try:
            return fn(audio)
        except gr.Error:
            raise
        except AudioError as exc:
            log.info("rejected audio: %s", exc)
            raise gr.Error(error_message(exc), title="Cannot analyse this audio", print_exception=False) from None
        except Exception:
            log.exception("analysis failed")
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

    # -- callbacks ---------------------------------------------------------------------------------------

    def classify(self, audio):
        """Page callback: summary, gender, age, age-gender labels, spectrogram+maps, overlay, timeline.

        Audio that cannot be analysed is not an error of the page: the reason is shown as a warning
        toast and in the summary, the old results are cleared, and the page stays ready for the next clip.
        Only plain values are returned (no component updates), so gradio can cache the examples' results.
        """
        try:
            a = self._guarded(self.analyse, audio)
        except gr.Error as exc:
            gr.Warning(exc.message, title=exc.title)
            return f"**{exc.message}**", None, None, None, None, None, None
        return (
            a.summary,
            a.labels["gender"],
            a.labels["age"],
            a.labels["age_gender"],
            a.spectrogram,
            a.overlay,
            a.timeline,
        )

    def predict(self, audio) -> dict:
        """API callback: labels, probabilities, per-window results and the summary as plain JSON."""

        def run(audio):
            pred, _ = self.prediction(audio)
            probs = task_probabilities(pred)
            return {
                "labels": {t: _top(p)[0] for t, p in probs.items()},
                "probabilities": probs,
                "low_confidence": {t: is_low_confidence(p) for t, p in probs.items()},
                "summary": summary_sentence(pred, self.facts.placeholder).replace("**", ""),
                "duration": round(pred.duration, 3),
                "windows": [
                    {"start": round(w.start, 3), "end": round(w.end, 3), "labels": w.labels} for w in pred.windows
                ],
                "model": {"source": self.facts.source, "untrained_placeholder": self.facts.placeholder},
            }

        return self._guarded(run, audio)

    # -- static text ------------------------------------------------------------------------------------

    def limits_markdown(self) -> str:
        return (
            f"Clips up to **{self.max_seconds:.0f} s** and uploads up to **{MAX_FILE_SIZE[:-2]} MB** "
            "(wav, flac, ogg, mp3, m4a, webm). Silence at the start and end is cut off; at least 0.5 s of "
            "speech is needed. To record, allow microphone access when the browser asks; without it, upload "
            "a file instead."
        )

    def model_markdown(self) -> str:
        status = "untrained placeholder, no measured accuracy" if self.facts.placeholder else "trained"
        source = self.facts.source
        if Path(source).resolve() == BUNDLED_MODEL.resolve():
            source = "checkpoints/ (bundled)"
        return f"Model: `{source}` ({status}, {self.clf.config.variant} MAM-CNN)."

    def how_it_works_markdown(self) -> str:
        cfg = self.clf.config
        window = cfg.window_seconds
        limits = self.facts.limitations
        return f"""\
**The spectrogram.** The recording is cut into 25 ms slices every {1000 * cfg.frame_seconds:.0f} ms;
for each slice the energy in {cfg.n_mels} frequency bands ({cfg.f_min:.0f} Hz to {cfg.f_max / 1000:.0f} kHz,
spaced like human pitch perception, the *mel* scale) is measured in decibels. Time runs left to right,
pitch bottom to top, and brighter means louder. Voice pitch, its harmonics and the resonances of the
vocal tract (formants) all show up as bright bands, and they differ with age and sex.

**The network (MAM-CNN, Tursunov et al., Sensors 2021).** Convolution layers learn patterns in the
spectrogram, then the *multi-attention module* looks at them along two axes: the **time branch**
(1x9, 1x3 filters) follows how the sound changes over time, and the **frequency branch** (9x1, 3x1
filters) looks across frequency bands. Their outputs are combined with the earlier features and
classified into gender, age group and the joint age-gender class. Long clips are analysed in
overlapping {window:.2f} s windows whose probabilities are averaged; the timeline shows each window.

**What the maps mean.** Each branch weighs its features with a number from 0 to 1 per time slice
(time attention) or per frequency band (frequency attention). High values mark the moments and bands
whose features the network passed on most strongly *in this recording*; the overlay multiplies the two.
**What they do not mean:** they are not a proof of *why* the model decided, they do not mark "the
age" or "the gender" in the sound, and they sit inside the network, so other layers can still use any
part of the spectrogram. An untrained model's maps are close to flat noise.

**How well it works.** {metrics_markdown(self.facts)}

{("**Limitations from the model card.** " + limits) if limits else '''**Limits.** Age from voice is hard:
neighbouring age groups sound alike, so models like this one are often off by one group. Accuracy drops for
accents, languages and microphones unlike the training data (Common Voice), for children, whispering,
singing, several speakers, music and noise. Never use it to make decisions about people.'''}
"""
