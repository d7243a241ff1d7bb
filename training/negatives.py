"""Generated sounds that are not speech: music, tones, noise and silence, to check that they are refused.

    sound = NEGATIVES["melody"](np.random.default_rng(0), seconds=4.0, rate=16000)

Every generator takes a random generator, a duration and a sample rate and returns float32 samples in
[-1, 1] with random parameters (pitch, tempo, level), so many different clips come from each kind.
"""

import numpy as np


def _t(seconds: float, rate: int) -> np.ndarray:
    return np.arange(int(seconds * rate)) / rate


def _level(x: np.ndarray, rng) -> np.ndarray:
    return (x / (np.abs(x).max() + 1e-9) * rng.uniform(0.05, 0.8)).astype(np.float32)


def _note(f0: float, t: np.ndarray, harmonics: int, decay: float) -> np.ndarray:
    return sum(np.sin(2 * np.pi * f0 * k * t) / k**1.5 for k in range(1, harmonics + 1)) * np.exp(-decay * t)


def melody(rng, seconds: float, rate: int) -> np.ndarray:
    """A plucked or bowed instrument playing random notes at a random tempo."""
    note_len = rng.uniform(0.12, 0.6)
    n = int(np.ceil(seconds / note_len))
    base = rng.uniform(110, 440)
    decay = rng.uniform(0.5, 8)
    t = _t(note_len, rate)
    x = np.concatenate([_note(base * 2 ** (rng.integers(0, 15) / 12), t, rng.integers(1, 9), decay) for _ in range(n)])
    return _level(x[: int(seconds * rate)], rng)


def chords(rng, seconds: float, rate: int) -> np.ndarray:
    """Three-note chords changing every beat, with a kick drum."""
    beat = rng.uniform(0.3, 0.8)
    t = _t(beat, rate)
    x = []
    for _ in range(int(np.ceil(seconds / beat))):
        root = rng.uniform(100, 300)
        chord = sum(_note(root * r, t, 5, 1.5) for r in (1, 2 ** (4 / 12), 2 ** (7 / 12)))
        kick = np.sin(2 * np.pi * 60 * t * np.exp(-8 * t)) * np.exp(-12 * t) * 2
        x.append(chord + kick)
    return _level(np.concatenate(x)[: int(seconds * rate)], rng)


def beeps(rng, seconds: float, rate: int) -> np.ndarray:
    """A tone switched on and off in a rhythm (alarms, ringing, rhythmic tones)."""
    t = _t(seconds, rate)
    f = rng.uniform(200, 3000)
    rhythm = (np.sin(2 * np.pi * rng.uniform(1.5, 8) * t) > rng.uniform(-0.5, 0.5)).astype(float)
    return _level(np.sin(2 * np.pi * f * t) * rhythm, rng)


def tone(rng, seconds: float, rate: int) -> np.ndarray:
    """A steady sine, square or sawtooth tone, or a slow sweep."""
    t = _t(seconds, rate)
    f = rng.uniform(80, 2000)
    kind = rng.integers(0, 4)
    phase = 2 * np.pi * f * t if kind < 3 else 2 * np.pi * f * t * (1 + rng.uniform(0.2, 2) * t / seconds)
    x = [np.sin(phase), np.sign(np.sin(phase)), ((phase / np.pi) % 2) - 1, np.sin(phase)][kind]
    return _level(x, rng)


def hum(rng, seconds: float, rate: int) -> np.ndarray:
    """Mains hum with harmonics, and a little hiss."""
    t = _t(seconds, rate)
    f = rng.choice([50.0, 60.0])
    x = sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6)) / k for k in range(1, 8))
    return _level(x + 0.05 * rng.standard_normal(len(t)), rng)


def noise(rng, seconds: float, rate: int) -> np.ndarray:
    """White, pink or brown noise."""
    n = int(seconds * rate)
    white = rng.standard_normal(n)
    kind = rng.integers(0, 3)
    if kind == 0:
        return _level(white, rng)
    spectrum = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / rate), 1.0)
    return _level(np.fft.irfft(spectrum / (f ** (0.5 if kind == 1 else 1.0)), n), rng)


def noise_bursts(rng, seconds: float, rate: int) -> np.ndarray:
    """Noise switched on and off in a rhythm (typing, footsteps, hi-hats)."""
    t = _t(seconds, rate)
    hits = np.zeros(len(t))
    period = rng.uniform(0.1, 0.6)
    for start in np.arange(0, seconds, period):
        i = int(start * rate)
        hits[i : i + int(rate * 0.05)] = 1
    env = np.convolve(hits, np.exp(-np.arange(int(0.05 * rate)) / (0.01 * rate)), mode="same")
    return _level(rng.standard_normal(len(t)) * env, rng)


def silence(rng, seconds: float, rate: int) -> np.ndarray:
    """Digital silence or very faint hiss."""
    return (rng.standard_normal(int(seconds * rate)) * rng.choice([0.0, 1e-4])).astype(np.float32)


NEGATIVES = {
    "melody": melody, "chords": chords, "beeps": beeps, "tone": tone, "hum": hum,
    "noise": noise, "noise_bursts": noise_bursts, "silence": silence,
}  # fmt: skip
