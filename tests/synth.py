"""Test audio: speech cut from the synthetic example clips (no recordings of people are committed)."""

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from agegender.audio import frame_levels_db, resample

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@lru_cache(maxsize=None)
def _speech_stream(name: str) -> tuple[np.ndarray, int]:
    """An example clip with its pauses cut out: speech from the first sample to the last."""
    x, rate = sf.read(EXAMPLES / f"{name}.wav", dtype="float32")
    levels, hop = frame_levels_db(x, rate)
    loud = np.flatnonzero(levels > levels.max() - 30)
    return np.concatenate([x[i * hop : (i + 1) * hop] for i in loud]), rate


def voice(seconds: float, rate: int = 16000, seed: int = 0, name: str = "en_male") -> np.ndarray:
    """`seconds` of continuous synthetic speech at `rate`, starting at a point chosen by `seed`."""
    stream, native = _speech_stream(name)
    stream = resample(stream, native, rate) if rate != native else stream
    n = int(seconds * rate)
    start = np.random.default_rng(seed).integers(0, len(stream))
    return np.resize(np.roll(stream, -start), n).astype(np.float32)
