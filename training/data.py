"""Training data from a prepared cache: label targets, random crops, balanced sampling, augmentation.

The loader only gathers int16 crops from the memory-mapped cache (cheap, in worker processes);
conversion, gain, noise, the log-mel front end and SpecAugment run batched on the training device.
"""

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from agegender.config import ModelConfig

from .datasets import speaker_split
from .prepare import AUDIO, INDEX, META


class Cache:
    """A prepared cache: `items` (one dict per clip, with its split) and the memory-mapped samples."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.meta = json.loads((self.root / META).read_text())
        self.items = [json.loads(line) for line in (self.root / INDEX).read_text().splitlines() if line.strip()]
        for it in self.items:
            it["split"] = it.get("split") or speaker_split(it["speaker"], self.meta.get("seed", 0))
        self._audio = None

    @property
    def audio(self) -> np.ndarray:
        if self._audio is None:  # opened lazily so that worker processes each map it themselves
            self._audio = np.memmap(self.root / AUDIO, dtype="<i2", mode="r")
        return self._audio

    def __getstate__(self):
        return {**self.__dict__, "_audio": None}

    def split(self, name: str) -> list[dict]:
        return [it for it in self.items if it["split"] == name]

    def waveform(self, item: dict) -> np.ndarray:
        """A clip's full float32 waveform (as `agegender.audio.load_audio` returned it)."""
        return self.audio[item["offset"] : item["offset"] + item["length"]].astype(np.float32) / 32767


def targets(item: dict, labels: dict[str, list[str]]) -> list[int]:
    """Class index per task, -1 where the clip has no label for it."""
    out = []
    for task, names in labels.items():
        if task == "age_gender":
            value = f"{item['gender']}-{item['age']}" if item["gender"] and item["age"] else None
        else:
            value = item.get(task)
        out.append(names.index(value) if value in names else -1)
    return out


def target_matrix(items: list[dict], labels: dict[str, list[str]]) -> np.ndarray:
    """(clips, tasks) class indices, -1 where a clip has no label for a task."""
    return np.array([targets(it, labels) for it in items], dtype=np.int64).reshape(-1, len(labels))


def stratum(item: dict) -> str:
    """The finest label a clip has, used to balance sampling."""
    return f"{item['gender']}-{item['age']}"


def sampling_weights(items: list[dict], power: float = 0.5, speaker_cap: int = 10) -> np.ndarray:
    """Per-clip sampling weights.

    A speaker with more than `speaker_cap` clips has its clips scaled down so that together they weigh
    as much as `speaker_cap` clips; then classes (gender x age, a missing label being its own stratum) are
    weighted by their capped clip count**-power (0 = natural frequencies, 1 = fully balanced).
    """
    speakers = Counter(it["speaker"] for it in items)
    mass = np.array([min(1.0, speaker_cap / speakers[it["speaker"]]) for it in items])
    strata = Counter()
    for it, m in zip(items, mass):
        strata[stratum(it)] += m
    w = np.array([m * strata[stratum(it)] ** -power for it, m in zip(items, mass)])
    return w / w.sum()


class CropBatches(torch.utils.data.Dataset):
    """Item i is a whole batch: (int16 crops (B, samples), targets (B, tasks)) for a list of clip indices.

    Each crop is a random `length`-sample stretch of its clip; clips shorter than that wrap around.
    """

    def __init__(self, cache: Cache, items: list[dict], labels: dict[str, list[str]], length: int,
                 batches: list[np.ndarray], seed: int = 0):  # fmt: skip
        self.cache, self.length, self.batches, self.seed = cache, length, batches, seed
        self.offsets = np.array([it["offset"] for it in items], dtype=np.int64)
        self.lengths = np.array([it["length"] for it in items], dtype=np.int64)
        self.targets = torch.from_numpy(target_matrix(items, labels))
        self.epoch = 0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i: int):
        idx = self.batches[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        n = self.lengths[idx]
        span = np.where(n >= self.length, n - self.length + 1, n)
        start = np.minimum((rng.random(len(idx)) * span).astype(np.int64), span - 1)
        pos = (start[:, None] + np.arange(self.length)[None, :]) % n[:, None]
        crops = torch.from_numpy(np.asarray(self.cache.audio[self.offsets[idx][:, None] + pos]))
        return crops, self.targets[idx]


def epoch_batches(weights: np.ndarray, batch_size: int, epoch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`epoch_size` clip indices drawn with replacement by `weights`, cut into batches (last one dropped)."""
    draws = rng.choice(len(weights), size=epoch_size, replace=True, p=weights)
    n = max(1, epoch_size // batch_size)
    return [draws[i * batch_size : (i + 1) * batch_size] for i in range(n)]


def loader(cache, items, labels, config: ModelConfig, batch_size: int, epoch: int, seed: int, weights,
           workers: int = 0, pin: bool = False, epoch_size: int | None = None):  # fmt: skip
    """A DataLoader over one epoch of balanced random crops."""
    from agegender.features import window_samples

    rng = np.random.default_rng([seed, epoch])
    batches = epoch_batches(weights, batch_size, epoch_size or len(items), rng)
    ds = CropBatches(cache, items, labels, window_samples(config), batches, seed)
    ds.epoch = epoch
    return torch.utils.data.DataLoader(
        ds, batch_size=None, shuffle=False, num_workers=workers, pin_memory=pin,
        persistent_workers=False, prefetch_factor=4 if workers else None,
    )  # fmt: skip


# -- on-device augmentation ------------------------------------------------------------------------


def augment_waveforms(x: torch.Tensor, gain_db: float = 6.0, snr_db: tuple[float, float] = (15.0, 40.0)) -> torch.Tensor:
    """Random gain (±gain_db) and white noise at a random SNR per clip. Pitch and formants are untouched."""
    b = x.shape[0]
    gain = 10 ** ((torch.rand(b, 1, device=x.device) * 2 - 1) * gain_db / 20)
    power = x.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-8)
    snr = snr_db[0] + torch.rand(b, 1, device=x.device) * (snr_db[1] - snr_db[0])
    noise = torch.randn_like(x) * torch.sqrt(power / 10 ** (snr / 10))
    return (x + noise) * gain


def spec_augment(spec: torch.Tensor, time_masks: int = 2, time_width: int = 25, freq_masks: int = 2,
                 freq_width: int = 8) -> torch.Tensor:  # fmt: skip
    """SpecAugment-style masking of (B, mels, frames) log-mel: masked cells get each example's mean."""
    b, m, t = spec.shape
    fill = spec.mean(dim=(1, 2), keepdim=True)
    keep = torch.ones_like(spec, dtype=torch.bool)
    for n, width, size, axis in ((time_masks, time_width, t, 2), (freq_masks, freq_width, m, 1)):
        for _ in range(n):
            w = (torch.rand(b, 1, device=spec.device) * (width + 1)).long()
            s = (torch.rand(b, 1, device=spec.device) * (size - w + 1).clamp_min(1)).long()
            r = torch.arange(size, device=spec.device)[None, :]
            band = (r >= s) & (r < s + w)  # (B, size)
            keep &= ~(band[:, None, :] if axis == 2 else band[:, :, None])
    return torch.where(keep, spec, fill)


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    return max(1, math.floor(n_items / batch_size))
