"""MAM-CNN: feature learning blocks around a multi-attention module (Tursunov et al., Sensors 2021).

Input: log-mel windows (batch, n_mels, frames) or image-like (batch, channels, n_mels, frames).
FLB-1 -> MAM (time branch 1xk, frequency branch kx1) -> concat(FLB-1, MAM) -> FLB-2 -> Dense -> one head per task,
plus (with `config.age_years`) a head for the age in years.
"""

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

MIN_INPUT_SIZE = 64  # mel bands and frames: the two FLBs leave at least one cell of each


def conv(c_in: int, c_out: int, kernel, stride: int = 1) -> nn.Conv2d:
    """Convolution with 'same'-style padding (halving the size when stride is 2)."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=(kernel[0] // 2, kernel[1] // 2))


class FLB(nn.Sequential):
    """Feature learning block: Conv 9x9/2 -> BN -> MaxPool -> Conv 5x5 -> MaxPool -> Conv 3x3 -> BN."""

    def __init__(self, c_in: int, c1: int, c2: int, c3: int):
        super().__init__(
            conv(c_in, c1, 9, stride=2), nn.ReLU(inplace=True), nn.BatchNorm2d(c1), nn.MaxPool2d(2),
            conv(c1, c2, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            conv(c2, c3, 3), nn.ReLU(inplace=True), nn.BatchNorm2d(c3),
        )  # fmt: skip

    @staticmethod
    def out_size(n: int) -> int:
        return ((n + 1) // 2) // 2 // 2


class AttentionBranch(nn.Module):
    """One MAM branch: convolutions along a single axis (time: 1x9, 1x3, 1x3; frequency: 9x1, 3x1, 3x1).

    When gated, a 1x1 convolution scores every position, the scores are averaged over the other axis and
    a sigmoid turns them into one weight per time frame (or frequency bin) that rescales the branch output.
    """

    def __init__(self, c_in: int, channels: int, axis: str, gated: bool):
        super().__init__()
        k = (lambda n: (1, n)) if axis == "time" else (lambda n: (n, 1))
        self.axis = axis
        self.convs = nn.Sequential(
            conv(c_in, channels, k(9)), nn.ReLU(inplace=True),
            conv(channels, channels, k(3)), nn.ReLU(inplace=True),
            conv(channels, channels, k(3)), nn.ReLU(inplace=True),
            nn.BatchNorm2d(channels),
        )  # fmt: skip
        self.gate = nn.Conv2d(channels, 1, 1) if gated else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.convs(x)
        if self.gate is None:
            return h, None
        other_axis = 2 if self.axis == "time" else 3
        weights = torch.sigmoid(self.gate(h).mean(dim=other_axis, keepdim=True))
        return h * weights, weights


class ModelOutput(NamedTuple):
    logits: dict[str, torch.Tensor]  # task -> (batch, classes)
    time_attention: torch.Tensor | None  # (batch, frames) in [0, 1], at the input's time resolution
    freq_attention: torch.Tensor | None  # (batch, n_mels) in [0, 1], at the input's frequency resolution
    age_years: torch.Tensor | None = None  # (batch, 2): median age in years, log of its Laplace scale in log-years


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per window: removes recording gain, keeps spectral shape."""
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True)
    return (x - mean) / (std + 1e-5)


class AgeHead(nn.Module):
    """Age in years as a Laplace distribution over log-years: its median (in years) and log scale.

    Log-years make an error of 2 years at age 8 weigh like one of 10 years at age 40.
    """

    CENTRE = math.log(30.0)

    def __init__(self, hidden: int):
        super().__init__()
        self.linear = nn.Linear(hidden, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.linear(z).float()
        log_years = (self.CENTRE + out[:, 0]).clamp(math.log(3.0), math.log(100.0))
        log_scale = out[:, 1].clamp(-5.0, 2.0)
        return torch.stack([log_years.exp(), log_scale], dim=1)


class MAMCNN(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()

        def width(c: int) -> int:
            return max(4, round(c * config.width))

        c1, c2, c3, cm, hidden = width(120), width(256), width(384), width(64), width(80)
        gated = config.variant == "gated"
        self.flb1 = FLB(config.in_channels, c1, c2, c3)
        self.time_branch = AttentionBranch(c3, cm, "time", gated)
        self.freq_branch = AttentionBranch(c3, cm, "freq", gated)
        self.mam_norm = nn.BatchNorm2d(2 * cm)
        self.flb2 = FLB(c3 + 2 * cm, c1, c2, c3)
        freq_out = FLB.out_size(FLB.out_size(config.n_mels))
        time_out = FLB.out_size(FLB.out_size(config.window_frames))
        if min(config.n_mels, config.window_frames) < MIN_INPUT_SIZE:
            raise ValueError(f"n_mels and window_frames must be at least {MIN_INPUT_SIZE}")
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(c3 * freq_out * time_out, hidden), nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden), nn.Dropout(config.dropout),
        )  # fmt: skip
        self.heads = nn.ModuleDict({task: nn.Linear(hidden, len(names)) for task, names in config.labels.items()})
        self.age_head = AgeHead(hidden) if config.age_years else None

    def forward(self, x: torch.Tensor) -> ModelOutput:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        size = x.shape[-2:]
        x = standardise(x)
        f1 = self.flb1(x)
        t, time_weights = self.time_branch(f1)
        f, freq_weights = self.freq_branch(f1)
        mam = self.mam_norm(torch.cat([t, f], dim=1))
        z = self.embed(self.flb2(torch.cat([f1, mam], dim=1)))
        logits = {task: head(z) for task, head in self.heads.items()}
        time_map = freq_map = None
        if time_weights is not None:
            time_map = F.interpolate(time_weights.flatten(1, 2), size=size[1], mode="linear").squeeze(1)
            freq_map = F.interpolate(freq_weights.flatten(2), size=size[0], mode="linear").squeeze(1)
        age = self.age_head(z) if self.age_head is not None else None
        return ModelOutput(logits, time_map, freq_map, age)
