"""Tiny generated corpora for the training tests: harmonic tones, lower for "male", higher for "female"."""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

AGES = ["teens", "twenties", "thirties", "fourties", "fifties", "sixties"]


def tone(path: Path, f0: float, seconds: float, rate: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f = f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))  # a little vibrato
    phase = 2 * np.pi * np.cumsum(f) / rate
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t + rng.uniform(0, 6)), 0, 1)  # speech-like level swings
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2 * syllables + rng.normal(0, 0.002, len(t))
    sf.write(path, x.astype(np.float32), rate)


def make_clips(root: Path, n: int, rate: int = 16000) -> list[dict]:
    """n short clips from n // 2 speakers; gender sets the pitch, age nudges it."""
    (root / "clips").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        gender = "female" if i % 2 else "male"
        age = AGES[(i // 2) % 3 + (3 if i % 4 >= 2 else 0)]
        f0 = (210 if gender == "female" else 110) * (1 + 0.05 * AGES.index(age))
        name = f"clip{i:03d}.wav"
        tone(root / "clips" / name, f0, 1.0 + (i % 5) * 0.5, rate if i % 3 else 48000, i)
        rows.append({"path": name, "gender": gender, "age": age, "speaker": f"spk{i // 2:03d}"})
    return rows


@pytest.fixture
def manifest_corpus(tmp_path) -> Path:
    """A generic manifest corpus of 48 clips, plus two bad rows (missing file, no usable label)."""
    root = tmp_path / "corpus"
    rows = make_clips(root, 48)
    rows = [{**r, "path": f"clips/{r['path']}"} for r in rows]
    rows.append({"path": "clips/missing.wav", "gender": "male", "age": "twenties", "speaker": "x"})
    rows.append({"path": rows[0]["path"], "gender": "other", "age": "", "speaker": "y"})
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "gender", "age", "speaker"])
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture
def clip_maker():
    """`make_clips(root, n, rate=16000)` for tests that build their own layout."""
    return make_clips
