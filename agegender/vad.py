"""Is there a voice in it? Seconds of speech found by Silero VAD (weights shipped in the `silero-vad` wheel).

Music, tones and noise have sound but no speech; the level checks in `audio.py` cannot tell them apart
from a voice, this network can. It reads 32 ms chunks at 16 kHz and stops as soon as it has heard enough
speech, so a real voice costs a few milliseconds and only sound that is not speech is read to the end.
"""

import contextlib
import queue
import warnings

import numpy as np
import torch

VAD_RATE = 16000  # the rate Silero VAD takes (it also takes 8000)
CHUNK = 512  # samples per VAD step at 16 kHz (32 ms)
THRESHOLD = 0.5  # a chunk with a higher speech probability counts as speech
MAX_READ_SECONDS = 60.0  # read at most this much audio

# Loaded models not in use. A model keeps state between chunks, so each call has one to itself; a model
# is kept for the next call, from any thread (a new one costs about 0.1 s: loading and its first runs).
_idle: queue.SimpleQueue = queue.SimpleQueue()


@contextlib.contextmanager
def _model():
    try:
        model = _idle.get_nowait()
    except queue.Empty:
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():  # the loader's own deprecation notices (importlib path, jit.load)
            warnings.simplefilter("ignore", DeprecationWarning)
            model = load_silero_vad()
    try:
        yield model
    finally:
        _idle.put(model)


@torch.inference_mode()
def speech_seconds(samples: np.ndarray, sample_rate: int, enough: float = float("inf")) -> float:
    """Seconds of speech in `samples` (mono float32), counting until `enough` seconds have been found."""
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if sample_rate != VAD_RATE:
        import torchaudio.functional as AF

        x = AF.resample(x, sample_rate, VAD_RATE)
    x = x[: int(MAX_READ_SECONDS * VAD_RATE)]
    found, step = 0, CHUNK / VAD_RATE
    with _model() as model:
        model.reset_states()
        for start in range(0, len(x) - CHUNK + 1, CHUNK):
            if float(model(x[start : start + CHUNK], VAD_RATE)) > THRESHOLD:
                found += 1
                if found * step >= enough:
                    break
    return found * step
