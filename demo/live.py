"""Live mode: the microphone streams, and the labels and maps of the last few seconds update twice a second.

The browser sends a chunk every `STREAM_EVERY` seconds. Each chunk is appended to a short buffer kept
in the session. When the last second holds speech (the checks of `agegender.audio`), the last
`VIEW_SECONDS` are classified and drawn as a scrolling view (0 = now); in a pause the page says
"no speech". Chunks are files in gradio's upload folder, deleted as soon as they are read.
"""

import time

import gradio as gr
import numpy as np
import soundfile as sf

from agegender import AudioError
from agegender.audio import resample, to_mono_float

from . import figures
from .labels import label_values
from .text import summary_sentence

STREAM_EVERY = 0.5  # seconds of audio per chunk: predictions update twice a second
VIEW_SECONDS = 4.0  # what is classified and shown
SPEECH_CHECK_SECONDS = 1.0  # "no speech" when this last stretch has none
MAX_STREAM_SECONDS = 600  # one live session
WAITING = "Press **Record** and speak: the labels and maps follow your voice twice a second."
NO_SPEECH = "**No speech** in the last second: keep talking."


def _read_chunk(chunk) -> tuple[np.ndarray, int]:
    if isinstance(chunk, (tuple, list)):
        rate, samples = chunk
        return to_mono_float(samples), int(rate)
    samples, rate = sf.read(chunk, dtype="float32", always_2d=True)
    return to_mono_float(samples), int(rate)


class Live:
    """The live tab's callback; the buffer lives in the session state."""

    def __init__(self, demo):
        self.demo = demo
        self.rate = demo.clf.config.sample_rate

    def step(self, chunk, buffer: np.ndarray | None):
        """One chunk in; status line, gender and age labels, the scrolling view and the new buffer out."""
        started = time.perf_counter()
        if chunk is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), buffer
        try:
            samples, rate = _read_chunk(chunk)
        except (AudioError, RuntimeError, ValueError):
            return NO_SPEECH, None, None, gr.skip(), buffer
        finally:
            if isinstance(chunk, str):
                self.demo.uploads.discard(chunk)
        samples = resample(samples, rate, self.rate)
        keep = int(VIEW_SECONDS * self.rate)
        buffer = np.concatenate([buffer if buffer is not None else np.zeros(0, np.float32), samples])[-keep:]
        clf = self.demo.clf
        try:
            clf.load(buffer[-int(SPEECH_CHECK_SECONDS * self.rate):], self.rate)  # raises in a pause
        except AudioError:
            return NO_SPEECH, None, None, gr.skip(), buffer
        pred = clf.classify_waveforms([buffer])[0]
        labels = label_values(pred)
        view = figures.maps_figure(pred, clf.config, caption=f"Last {len(buffer) / self.rate:.1f} s (0 = now)",
                                   start=-len(buffer) / self.rate, time_label="Time (s)")  # fmt: skip
        ms = 1000 * (time.perf_counter() - started)
        status = summary_sentence(pred, self.demo.facts.placeholder) + f" <small>({ms:.0f} ms)</small>"
        return status, labels["gender"], labels["age"], view, buffer

    def reset(self):
        return WAITING, None, None, None, None


def build_tab(demo) -> None:
    """The live tab's components and events (called inside `gr.Tab`)."""
    live = Live(demo)
    tasks = demo.tasks
    mic = gr.Audio(sources=["microphone"], streaming=True, type="filepath", label="Live microphone",
                   elem_id="live-input")  # fmt: skip
    status = gr.Markdown(WAITING, elem_id="live-summary")
    with gr.Row():
        gender = gr.Label(label="Gender", num_top_classes=2, visible="gender" in tasks, elem_id="live-gender")
        age = gr.Label(label="Age group", num_top_classes=3, visible="age" in tasks, elem_id="live-age")
    view = gr.HTML(elem_id="live-view", js_on_load=None, padding=False)
    buffer = gr.State(None)
    outputs = [status, gender, age, view, buffer]
    mic.stream(live.step, [mic, buffer], outputs, stream_every=STREAM_EVERY, time_limit=MAX_STREAM_SECONDS,
               concurrency_limit=None, api_visibility="private", trigger_mode="always_last")  # fmt: skip
    mic.start_recording(live.reset, None, outputs, queue=False, api_visibility="private")
