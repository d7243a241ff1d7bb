"""Shared fixtures: generated speech-like audio and a tiny saved model."""

import numpy as np
import pytest
import soundfile as sf
import torch

from agegender import AgeGenderClassifier, ModelConfig
from synth import voice


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
    return ModelConfig(width=0.125, age_years=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_config):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_model")
    AgeGenderClassifier(tiny_config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    return AgeGenderClassifier.from_pretrained(tiny_model_dir)
