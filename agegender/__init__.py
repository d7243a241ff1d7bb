"""agegender: age and gender from speech with MAM-CNN (Tursunov et al., Sensors 2021)."""

from .audio import (
    AudioError,
    InvalidSamplesError,
    NoSpeechError,
    TooLongError,
    TooShortError,
    UnreadableAudioError,
    UnsupportedFormatError,
    load_audio,
)
from .classifier import AgeGenderClassifier, Prediction, WindowResult
from .config import ModelConfig

__all__ = [
    "AgeGenderClassifier",
    "AudioError",
    "InvalidSamplesError",
    "ModelConfig",
    "NoSpeechError",
    "Prediction",
    "TooLongError",
    "TooShortError",
    "UnreadableAudioError",
    "UnsupportedFormatError",
    "WindowResult",
    "load_audio",
]
