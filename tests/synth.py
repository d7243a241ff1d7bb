"""Generated test audio (no recordings are committed)."""

import numpy as np


def voice(seconds: float, rate: int = 16000, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with syllable-like loudness changes and a little noise: sound that passes as speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (0.2 * tone * syllables + 0.002 * rng.standard_normal(len(t))).astype(np.float32)
