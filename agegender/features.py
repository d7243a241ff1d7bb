"""The spectrogram front end shared by inference, the app and training."""

import math

import torch
import torchaudio
from torch import nn

from .config import ModelConfig

LOG_FLOOR = 1e-6


class LogMel(nn.Module):
    """Waveforms (batch, samples) at the model rate -> natural-log mel power (batch, n_mels, frames).

    Runs on whatever device the module is on; always in float32 (mixed precision is for the network).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            power=2.0,
            norm="slaney",
            mel_scale="slaney",
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            return torch.log(self.mel(waveforms.float()) + LOG_FLOOR)


def window_samples(config: ModelConfig) -> int:
    """Waveform length whose spectrogram is exactly one model window."""
    return (config.window_frames - 1) * config.hop_length


def split_windows(spectrogram: torch.Tensor, size: int, hop: int) -> tuple[torch.Tensor, list[int]]:
    """Cut (n_mels, frames) into overlapping (n, n_mels, size) windows and their start frames.

    A clip shorter than one window is repeated to fill it; the last window is aligned to the clip's end.
    """
    frames = spectrogram.shape[-1]
    if frames <= size:
        reps = math.ceil(size / frames)
        return spectrogram.repeat(1, reps)[:, :size].unsqueeze(0), [0]
    starts = list(range(0, frames - size + 1, hop))
    if starts[-1] != frames - size:
        starts.append(frames - size)
    return torch.stack([spectrogram[:, s : s + size] for s in starts]), starts


def to_db(log_power: torch.Tensor) -> torch.Tensor:
    """Natural-log power as decibels, for display."""
    return log_power * (10.0 / math.log(10.0))


def mel_frequencies(config: ModelConfig):
    """Centre frequency in Hz of each mel band, for plot axes."""
    import librosa

    return librosa.mel_frequencies(config.n_mels + 2, fmin=config.f_min, fmax=config.f_max)[1:-1]
