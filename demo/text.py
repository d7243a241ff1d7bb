"""The words on the page: the summary sentence, error messages, limits and "How it works"."""

from pathlib import Path

from agegender import Prediction
from agegender.audio import MIN_SPEECH_SECONDS, AudioError, NoSpeechError, TooLongError, TooShortError
from agegender.classifier import BUNDLED_MODEL
from agegender.config import ModelConfig

from .card import ModelFacts, metrics_markdown
from .labels import TASK_TITLES, is_low_confidence, task_probabilities, top

NO_AUDIO_MESSAGE = "Record a clip with the microphone or upload an audio file first."
GENERIC_ERROR = "Something went wrong while analysing this clip. Please try again or use another recording."
SHORT_SPEECH_NOTE = "less than 1 s of speech: low confidence"
UPLOAD_FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "m4a", "webm", "mp4")


def age_years_text(pred: Prediction) -> str:
    """"about 34 (25-45)" from the model's age in years, or "" when the model has no such head."""
    if pred.age_years is None:
        return ""
    spread = pred.age_years_range
    return f"about {pred.age_years:.0f}" + (f" ({spread[0]:.0f}-{spread[1]:.0f})" if spread is not None else "")


def summary_sentence(pred: Prediction, placeholder: bool = False) -> str:
    """One plain-language line: the most likely speaker and how sure the model is."""
    probs = task_probabilities(pred)
    parts, sureness, unsure = [], [], []
    for task in ("gender", "age"):
        if task not in probs:
            continue
        label, p = top(probs[task])
        low = is_low_confidence(probs[task])
        unsure += [task] if low else []
        parts.append(f"a **{label}** voice" if task == "gender" else f"the **{label}** age group")
        sureness.append(f"{TASK_TITLES[task].lower()} {p:.0%}" + (" - low confidence" if low else ""))
    if not parts and probs:  # a model with other tasks only
        task = next(iter(probs))
        label, p = top(probs[task])
        parts.append(f"**{label}**")
        sureness.append(f"{p:.0%}")
        unsure += [task] if is_low_confidence(probs[task]) else []
    what = f"{parts[0]} in {parts[1]}" if len(parts) == 2 else (parts[0] if parts else "nothing")
    years = age_years_text(pred)
    if years:
        what += f", **{years}** years old"
    lead = "The model is unsure; it leans towards" if unsure else "Most likely"
    line = f"{lead} {what} (confidence: {', '.join(sureness)})."
    if pred.low_confidence:
        line += f" Note: {SHORT_SPEECH_NOTE}."
    if placeholder:
        line = "Untrained placeholder model, so this is a random guess. " + line
    return line


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


def limits_markdown(max_seconds: float, max_file_mb: int) -> str:
    return (
        f"Clips up to **{max_seconds:.0f} s** and uploads up to **{max_file_mb} MB** "
        f"({', '.join(UPLOAD_FORMATS[:-1])} or mp4 video with sound). The analysis starts when you stop "
        f"recording or an upload finishes. Silence at the start and end is cut off; at least "
        f"{MIN_SPEECH_SECONDS:g} s of speech is needed. To record, allow microphone access when the browser asks; "
        "without it, upload a file instead. Recordings and uploads are deleted from the server once analysed."
    )


def model_markdown(facts: ModelFacts, config: ModelConfig) -> str:
    status = "untrained placeholder, no measured accuracy" if facts.placeholder else "trained"
    source = facts.source
    if source and Path(source).resolve() == BUNDLED_MODEL.resolve():
        source = "checkpoints/ (bundled)"
    return f"Model: `{source}` ({status}, {config.variant} MAM-CNN)."


def how_it_works_markdown(facts: ModelFacts, cfg: ModelConfig) -> str:
    window = cfg.window_seconds
    limits = facts.limitations
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

**What the gates show.** Each branch weighs its features with a number from 0 to 1 per time slice
(time attention) or per frequency band (frequency attention). High values mark the moments and bands
whose features the network passed on most strongly *in this recording*; the overlay multiplies the two.
The gates are the same whatever the answer: they say what the network let through, not which label
it supports.

**What Grad-CAM shows.** Grad-CAM asks the finished network a question about one label you pick: if
the features at this moment and band grew a little, would the model be *more* sure of "female" (or
"twenties"...)? It takes the gradient of that label's log-probability with respect to the features
the gates act on, weighs the feature channels by it and keeps the positive evidence. The map changes
with the label: for "female" and "male" it marks different places, because evidence for one is
evidence against the other. It is computed in the same forward pass as the prediction, at a coarse
grid (about 80 ms by 8 mel bands), and scaled so its strongest cell is 1.

**How the two differ.** The gates are part of the model and are computed for every clip before any
answer exists; Grad-CAM is an explanation made afterwards, for one label at a time. Neither is a proof
of *why* the model decided: they do not mark "the age" or "the gender" in the sound, the gates act on
only half of the features, and Grad-CAM is a first-order estimate that can miss evidence spread over
the whole clip. An untrained model's maps are close to flat noise.

**How well it works.** {metrics_markdown(facts)}

{("**Limitations from the model card.** " + limits) if limits else '''**Limits.** Age from voice is hard:
neighbouring age groups sound alike, so models like this one are often off by one group. Accuracy drops for
accents, languages and microphones unlike the training data (Common Voice), for children, whispering,
singing, several speakers, music and noise. Never use it to make decisions about people.'''}
"""
