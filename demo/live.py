"""Live mode: the microphone streams, and the labels and maps of the last few seconds update twice a second.

Gradio's audio component sends a chunk every 0.1 s (its page ignores `stream_every`); each chunk is a
file in gradio's upload folder, deleted as soon as it is read. The chunks join the last `VIEW_SECONDS`
kept in the session (a `Stream`). Every `UPDATE_SECONDS` of new audio, that buffer is analysed in a
worker thread: while a step runs, gradio keeps only the newest chunk, so a step that waited for the
model would lose the audio sent meanwhile. The first chunk after an analysis is done brings its result
to the page: when the last second holds speech (the checks of `agegender.audio`), the labels and a
scrolling view (0 = now); in a pause, "no speech".

The stream event must keep gradio's default trigger mode for streams ("multiple"): with "always_last"
the page defers every chunk after the first until the stream ends, and nothing updates.
"""

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
import soundfile as sf

from agegender import AudioError
from agegender.audio import resample, to_mono_float

from . import figures
from .analysis import CONCURRENCY_LIMIT
from .labels import label_values
from .text import summary_sentence

UPDATE_SECONDS = 0.5  # new audio between two analyses: predictions update twice a second
VIEW_SECONDS = 4.0  # what is classified and shown
SPEECH_CHECK_SECONDS = 1.0  # "no speech" when this last stretch has none
MAX_STREAM_SECONDS = 600  # one live session
WAITING = "Press **Record** and speak: the labels and maps follow your voice twice a second."
NO_SPEECH = "**No speech** in the last second: keep talking."
UNCHANGED = (gr.skip(),) * 4  # status, gender, age, view


def _read_chunk(chunk) -> tuple[np.ndarray, int]:
    if isinstance(chunk, (tuple, list)):
        rate, samples = chunk
        return to_mono_float(samples), int(rate)
    samples, rate = sf.read(chunk, dtype="float32", always_2d=True)
    return to_mono_float(samples), int(rate)


@dataclass
class Stream:
    """One live session: the last `VIEW_SECONDS` at the microphone's rate, and the analysis under way."""

    rate: int
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    fresh: int = 0  # samples added since the last analysis started
    running: Future | None = None

    def add(self, samples: np.ndarray) -> None:
        self.audio = np.concatenate([self.audio, samples])[-int(VIEW_SECONDS * self.rate) :]
        self.fresh += len(samples)


class Live:
    """The live tab's callback; the `Stream` lives in the session state."""

    def __init__(self, demo, pool=None):
        self.demo = demo
        self.rate = demo.clf.config.sample_rate
        self.pool = pool or ThreadPoolExecutor(CONCURRENCY_LIMIT, thread_name_prefix="live")

    def step(self, chunk, stream: Stream | None):
        """One chunk in; status line, gender and age labels, the scrolling view (or skips) and the stream out."""
        if chunk is None:
            return *UNCHANGED, stream
        try:
            samples, rate = _read_chunk(chunk)
        except (AudioError, RuntimeError, ValueError):  # a broken chunk: wait for the next one
            return *UNCHANGED, stream
        finally:
            if isinstance(chunk, str):
                self.demo.uploads.discard(chunk)
        if stream is None or stream.rate != rate:
            stream = Stream(rate)
        stream.add(samples)
        if stream.running is None and stream.fresh >= UPDATE_SECONDS * rate:
            stream.fresh = 0
            stream.running = self.pool.submit(self.analyse, stream.audio, rate)
        if stream.running is None or not stream.running.done():
            return *UNCHANGED, stream
        outputs, stream.running = stream.running.result(), None
        return *outputs, stream

    def analyse(self, audio: np.ndarray, rate: int) -> tuple:
        """Status line, gender and age labels and the scrolling view for the last seconds of audio."""
        started = time.perf_counter()
        wave = resample(audio, rate, self.rate)
        clf = self.demo.clf
        try:
            clf.load(wave[-int(SPEECH_CHECK_SECONDS * self.rate) :], self.rate)  # raises in a pause
        except AudioError:
            return NO_SPEECH, None, None, gr.skip()
        pred = clf.classify_waveforms([wave])[0]
        labels = label_values(pred)
        seconds = len(wave) / self.rate
        view = figures.maps_figure(pred, clf.config, caption=f"Last {seconds:.1f} s (0 = now)", start=-seconds,
                                   time_label="Time (s)")  # fmt: skip
        ms = 1000 * (time.perf_counter() - started)
        status = summary_sentence(pred, self.demo.facts.placeholder) + f" <small>({ms:.0f} ms)</small>"
        return status, labels["gender"], labels["age"], view

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
    stream = gr.State(None)
    outputs = [status, gender, age, view, stream]
    # A stream holds its worker for its whole length, hence no concurrency limit (the analyses share `live.pool`);
    # no progress timer, which would blink on every chunk.
    mic.stream(live.step, [mic, stream], outputs, time_limit=MAX_STREAM_SECONDS, concurrency_limit=None,
               show_progress="hidden", api_visibility="private")  # fmt: skip
    mic.start_recording(live.reset, None, outputs, queue=False, api_visibility="private")
