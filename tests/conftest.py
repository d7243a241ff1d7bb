"""Shared fixtures: generated speech-like audio and a tiny saved model."""

import numpy as np
import pytest
import soundfile as sf
import torch

from agegender import AgeGenderClassifier, ModelConfig


def voice(seconds: float, rate: int = 16000, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with syllable-like loudness changes and a little noise: sound that passes as speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (0.2 * tone * syllables + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture
def make_wav(tmp_path):
    def make(name="clip.wav", seconds=3.0, rate=16000, channels=1, subtype=None):
        samples = voice(seconds, rate)
        if channels > 1:
            samples = np.stack([samples] * channels, axis=1)
        path = tmp_path / name
        sf.write(path, samples, rate, subtype=subtype)
        return path

    return make


@pytest.fixture(scope="session")
def tiny_config():
    return ModelConfig(width=0.125)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_config):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_model")
    AgeGenderClassifier(tiny_config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    return AgeGenderClassifier.from_pretrained(tiny_model_dir)
