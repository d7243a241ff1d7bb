"""Is there a voice in it? Seconds of speech found by Silero VAD (weights shipped in the `silero-vad` wheel).

Music, tones and noise have sound but no speech; the level checks in `audio.py` cannot tell them apart
from a voice, this network can. It reads 32 ms chunks at 16 kHz and stops as soon as it has heard enough
speech, so a real voice costs a few milliseconds and only sound that is not speech is read to the end.
"""

import threading
import warnings

import numpy as np
import torch

VAD_RATE = 16000  # the rate Silero VAD takes (it also takes 8000)
CHUNK = 512  # samples per VAD step at 16 kHz (32 ms)
THRESHOLD = 0.5  # a chunk with a higher speech probability counts as speech
MAX_READ_SECONDS = 60.0  # read at most this much audio

_local = threading.local()  # the model keeps state between chunks: one copy per thread


def _model():
    if getattr(_local, "model", None) is None:
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():  # the loader's own deprecation notices (importlib path, jit.load)
            warnings.simplefilter("ignore", DeprecationWarning)
            _local.model = load_silero_vad()
    return _local.model


@torch.inference_mode()
def speech_seconds(samples: np.ndarray, sample_rate: int, enough: float = float("inf")) -> float:
    """Seconds of speech in `samples` (mono float32), counting until `enough` seconds have been found."""
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if sample_rate != VAD_RATE:
        import torchaudio.functional as AF

        x = AF.resample(x, sample_rate, VAD_RATE)
    x = x[: int(MAX_READ_SECONDS * VAD_RATE)]
    model = _model()
    model.reset_states()
    found, step = 0, CHUNK / VAD_RATE
    for start in range(0, len(x) - CHUNK + 1, CHUNK):
        if float(model(x[start : start + CHUNK], VAD_RATE)) > THRESHOLD:
            found += 1
            if found * step >= enough:
                break
    return found * step
