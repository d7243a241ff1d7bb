"""`Demo`: the classifier loaded once at start, and the callbacks of the page (`app.py` only wires them).

`Demo.analyse` turns audio into everything the page shows, from one forward pass; `Demo.classify` is
the page's callback (also run when a recording stops or an upload finishes), `Demo.explain` redraws
Grad-CAM for another label, `Demo.predict` returns plain JSON for API clients. Audio problems get a
person-readable message (a warning and the summary line in the page, an error for API clients); an
unexpected failure is logged and shown as a generic message, never as a trace.
"""

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from agegender import AgeGenderClassifier, AudioError, Prediction
from agegender.gradcam import classify_and_explain

from . import figures
from .card import ModelFacts, model_facts
from .labels import TASK_TITLES, TASKS, is_low_confidence, label_values, task_probabilities, top
from .text import GENERIC_ERROR, NO_AUDIO_MESSAGE, age_years_text, error_message, summary_sentence
from .uploads import Uploads

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # longest clip the demo accepts
MAX_FILE_MB = 10  # largest upload the server accepts
CONCURRENCY_LIMIT = 2  # analyses run at the same time (one torch thread each)
QUEUE_SIZE = 256  # requests waiting beyond that; a 5 s clip takes well under 0.1 s, so this drains fast


@dataclass
class Analysis:
    prediction: Prediction
    target: tuple[str, str]  # the (task, label) Grad-CAM explains
    summary: str
    labels: dict[str, dict[str, float] | None]
    age_years: str  # "about 34 (25-45)", or "" for a model without an age-in-years head
    maps: str  # HTML: spectrogram, time and frequency attention
    overlay: str | None  # HTML: the gates' product over the spectrogram (None for ungated models)
    gradcam: str  # HTML: Grad-CAM of `target`
    timeline: str | None  # HTML: probabilities per window
    timings: dict[str, float] = field(default_factory=dict)  # seconds: load, predict, draw


def target_choices(pred: Prediction) -> list[tuple[str, str]]:
    """Dropdown entries for Grad-CAM: ("female (gender)", "gender/female"), ... for every label."""
    probs = task_probabilities(pred)
    return [(f"{label} ({TASK_TITLES[t].lower()})", f"{t}/{label}") for t in TASKS if t in probs for label in probs[t]]


def default_target(pred: Prediction) -> tuple[str, str]:
    """The predicted gender (the most reliable answer), else the first task's top label."""
    probs = task_probabilities(pred)
    task = "gender" if "gender" in probs else next(iter(probs))
    return task, top(probs[task])[0]


def _audio_source(audio) -> tuple[object, int | None]:
    """Gradio's audio value (a file path, a FileData dict, or (rate, samples)) as a `clf.load` argument."""
    if isinstance(audio, dict):  # FileData-like dict from an API client
        audio = audio.get("path") or audio.get("name")
    if isinstance(audio, (tuple, list)) and len(audio) == 2 and isinstance(audio[1], np.ndarray):
        rate, samples = audio
        return samples, int(rate)
    return audio, None


def _gradcam_html(pred: Prediction, config, cam, target: tuple[str, str]) -> str:
    return figures.gradcam_figure(pred, config, cam, f"{target[1]} ({TASK_TITLES[target[0]].lower()})")


class Demo:
    """The loaded model and the callbacks of the page."""

    def __init__(self, classifier: AgeGenderClassifier, max_seconds: float = MAX_SECONDS,
                 facts: ModelFacts | None = None, keep: list[Path] = ()):  # fmt: skip
        self.clf = classifier
        self.max_seconds = max_seconds
        self.facts = facts or model_facts(getattr(classifier, "source", ""))
        self.uploads = Uploads(keep)

    @classmethod
    def load(cls, model: str | None = None, max_seconds: float = MAX_SECONDS, keep: list[Path] = ()) -> "Demo":
        """Load the model once: a Hub id or directory, else $AGEGENDER_MODEL, else the bundled checkpoint."""
        return cls(AgeGenderClassifier.from_pretrained(model), max_seconds, keep=keep)

    @property
    def tasks(self) -> list[str]:
        """The label boxes the page shows (joint-task models also get gender and age)."""
        tasks = set(self.clf.config.tasks)
        if "age_gender" in tasks:
            tasks |= {"gender", "age"}
        return [t for t in TASKS if t in tasks]

    def warm_up(self, clip: Path | None) -> None:
        """Pay at start for what would slow the first request down: lazy imports and first allocations.

        Gradio asks matplotlib for its backend around every call; with none chosen, matplotlib imports
        pyplot on the first one (0.6 s, in the server's event loop). The page draws no matplotlib figure,
        so "agg" is chosen here. `clip` goes through Classify's path: the checks, the forward pass with
        Grad-CAM and the four figures (the live view uses the same model and spectrogram figure).
        """
        import matplotlib

        matplotlib.use("agg")
        if clip is None:
            return
        try:
            self.analyse_waveform(self.clf.load(str(clip)))
        except Exception:  # a slower first click is no reason not to start
            log.exception("warm-up on %s failed", clip)

    @staticmethod
    def warm_up_server(url: str, clip: Path | None) -> None:
        """One request through the running server (upload, queue, analysis, result), so the first visitor
        does not pay for gradio's first request."""
        if clip is None:
            return
        try:
            from gradio_client import Client, handle_file

            Client(url, verbose=False).predict(handle_file(str(clip)), api_name="/predict")
        except Exception:  # as above: never a reason not to serve
            log.exception("warm-up request to %s failed", url)

    # -- the analysis ------------------------------------------------------------------------------------

    def load_audio(self, audio) -> np.ndarray:
        """Decode and check; the upload is deleted as soon as its samples are in memory."""
        if audio is None or (isinstance(audio, str) and not audio):
            raise gr.Error(NO_AUDIO_MESSAGE, title="No audio", print_exception=False)
        source, rate = _audio_source(audio)
        try:
            return self.clf.load(source, rate, max_seconds=self.max_seconds)
        finally:
            if rate is None:
                self.uploads.discard(source)

    def analyse_waveform(self, wave: np.ndarray, target: tuple[str, str] | None = None) -> Analysis:
        """Everything the page shows, from one forward pass (Grad-CAM included)."""
        start = time.perf_counter()
        pred, cam, target = classify_and_explain(self.clf, wave, target or default_target)
        done = time.perf_counter()
        config = self.clf.config
        analysis = Analysis(
            prediction=pred,
            target=target,
            summary=summary_sentence(pred, self.facts.placeholder),
            labels=label_values(pred),
            age_years=age_years_text(pred),
            maps=figures.maps_figure(pred, config),
            overlay=figures.overlay_figure(pred, config),
            gradcam=_gradcam_html(pred, config, cam, target),
            timeline=figures.timeline_figure(pred),
        )
        analysis.timings = {"predict": done - start, "draw": time.perf_counter() - done}
        return analysis

    def analyse(self, audio, target: tuple[str, str] | None = None) -> Analysis:
        """Decode, check and analyse a file path or (rate, samples); raises AudioError for bad audio."""
        start = time.perf_counter()
        wave = self.load_audio(audio)
        loaded = time.perf_counter()
        analysis = self.analyse_waveform(wave, target)
        analysis.timings["load"] = loaded - start
        log.info("analysed %.1f s of speech: load %.0f ms, predict %.0f ms, draw %.0f ms", analysis.prediction.duration,
                 *(1000 * analysis.timings[k] for k in ("load", "predict", "draw")))  # fmt: skip
        return analysis

    def _guarded(self, fn, *args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except AudioError as exc:
            log.info("rejected audio: %s", exc)
            raise gr.Error(error_message(exc), title="Cannot analyse this audio", print_exception=False) from None
        except Exception:
            log.exception("analysis failed")
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

    # -- callbacks ---------------------------------------------------------------------------------------

    def page_values(self, a: Analysis) -> tuple:
        """The outputs of `classify`, in order: summary, age in years, 3 labels, 4 figures, Grad-CAM picker."""
        picker = gr.Dropdown(choices=target_choices(a.prediction), value="/".join(a.target), interactive=True)
        return (a.summary, a.age_years, a.labels["gender"], a.labels["age"], a.labels["age_gender"], a.maps,
                a.overlay, a.gradcam, a.timeline, picker)  # fmt: skip

    def classify(self, audio, clip: dict | None = None):
        """Page callback (Classify, a stopped recording, a finished upload, an example clip).

        Returns the page's outputs and the session's clip: the decoded audio is kept there, so the
        upload can be deleted at once and Classify or the Grad-CAM picker still work on it afterwards.
        Audio that cannot be analysed is not an error of the page: the reason is shown as a warning and
        in the summary, the old results are cleared, and the page stays ready for the next clip.
        """
        source = audio.get("path") if isinstance(audio, dict) else audio
        try:
            if clip and (source is None or (isinstance(source, str) and not os.path.exists(source))):
                wave = clip["wave"]  # a second look at the clip on the page (its upload is already deleted)
            else:
                wave = self._guarded(self.load_audio, audio)
                clip = {"wave": wave}
            a = self._guarded(self.analyse_waveform, wave)
        except gr.Error as exc:
            gr.Warning(exc.message, title=exc.title)
            return (f"**{exc.message}**", "", None, None, None, None, None, None, None,
                    gr.Dropdown(choices=[], value=None), None)  # fmt: skip
        log.info("analysed %.1f s of speech: predict %.0f ms, draw %.0f ms", a.prediction.duration,
                 1000 * a.timings["predict"], 1000 * a.timings["draw"])  # fmt: skip
        return (*self.page_values(a), clip)

    def example(self, audio):
        """Example-clip callback: like `classify`, on a clip that is never deleted."""
        return self.classify(audio, None)

    def explain(self, choice: str | None, clip: dict | None) -> str | None:
        """Grad-CAM picker callback: the Grad-CAM figure for another label of the clip on the page."""
        if not choice or not clip:
            return None
        task, label = choice.split("/", 1)
        return self._guarded(self._gradcam, clip["wave"], (task, label))

    def _gradcam(self, wave: np.ndarray, target: tuple[str, str]) -> str:
        """Only the Grad-CAM figure, for the picker (the other figures do not change with the label)."""
        pred, cam, target = classify_and_explain(self.clf, wave, target)
        return _gradcam_html(pred, self.clf.config, cam, target)

    def predict(self, audio) -> dict:
        """API callback: `Prediction.to_dict()` plus the summary, per-window labels and the model's source."""

        def run(audio):
            wave = self.load_audio(audio)
            pred = self.clf.classify_waveforms([wave])[0]
            probs = task_probabilities(pred)
            return {
                **pred.to_dict(),
                "labels": {t: top(p)[0] for t, p in probs.items()},
                "probabilities": probs,
                "unsure": {t: is_low_confidence(p) for t, p in probs.items()},
                "summary": summary_sentence(pred, self.facts.placeholder).replace("**", ""),
                "duration": round(pred.duration, 3),
                "windows": [
                    {"start": round(w.start, 3), "end": round(w.end, 3), "labels": w.labels} for w in pred.windows
                ],
                "model": {"source": self.facts.source, "untrained_placeholder": self.facts.placeholder},
            }

        return self._guarded(run, audio)
