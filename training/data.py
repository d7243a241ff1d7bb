"""Training data from prepared caches: label targets, random crops, balanced sampling, augmentation.

The loader only gathers int16 crops from the memory-mapped cache (cheap, in worker processes);
conversion, gain, noise, the log-mel front end and SpecAugment run batched on the training device.
"""

import json
import math
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from agegender.config import AGE_GROUP_YEARS, SAMPLE_RATE, ModelConfig, joint_label

from .datasets import speaker_split
from .prepare import AUDIO, INDEX, META, is_cache


class Cache:
    """A prepared cache: `items` (one dict per clip, with its split) and the memory-mapped samples."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not is_cache(self.root):
            raise FileNotFoundError(f"no prepared cache at {root} (make one with python -m training.prepare)")
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

    @property
    def corpus(self) -> str:
        return self.meta.get("corpus") or Path(self.meta.get("source") or self.root).name


class Corpora:
    """Several prepared caches read as one: each item is tagged with its `cache` index and `corpus` name.

    Each cache keeps its own speaker split, so the splits are speaker-disjoint within every corpus.
    """

    def __init__(self, roots):
        roots = [roots] if isinstance(roots, (str, Path)) else list(roots)
        self.caches = [Cache(r) for r in roots]
        names = [c.corpus for c in self.caches]
        if len(set(names)) != len(names):
            raise ValueError(f"two caches hold the same corpus name: {names}")
        for i, c in enumerate(self.caches):
            for it in c.items:
                it["cache"], it["corpus"] = i, c.corpus
        self.items = [it for c in self.caches for it in c.items]

    @property
    def corpora(self) -> list[str]:
        return [c.corpus for c in self.caches]

    @property
    def sample_rate(self) -> int:
        rates = {c.meta["sample_rate"] for c in self.caches}
        if len(rates) != 1:
            raise ValueError(f"the caches hold audio at different sample rates: {sorted(rates)}")
        return rates.pop()

    def split(self, name: str) -> list[dict]:
        return [it for it in self.items if it["split"] == name]

    def waveform(self, item: dict) -> np.ndarray:
        return self.caches[item["cache"]].waveform(item)


def speaker_of(item: dict) -> str:
    """A speaker's identity across corpora: its id within its corpus (ids of two corpora may coincide)."""
    return f"{item.get('corpus')}/{item['speaker']}"


def targets(item: dict, labels: dict[str, list[str]]) -> list[int]:
    """Class index per task, -1 where the clip has no label for it."""
    out = []
    for task, names in labels.items():
        if task == "age_gender":
            value = joint_label(item["gender"], item["age"]) if item["gender"] and item["age"] else None
        else:
            value = item.get(task)
        out.append(names.index(value) if value in names else -1)
    return out


def check_cache(cache: "Corpora", config: ModelConfig) -> None:
    """Refuse caches whose sample rate or labels differ from the model's config: a clip with a label the model
    does not know would silently count as unlabelled, and audio at another rate would silently be misread."""
    problems = []
    if cache.sample_rate != config.sample_rate:
        problems.append(f"its audio is at {cache.sample_rate} Hz but the model takes {config.sample_rate} Hz "
                        f"(prepare it again with --sample-rate {config.sample_rate})")  # fmt: skip
    found = {t: {it.get(t) for it in cache.items if it.get(t)} for t in ("gender", "age")}
    found["age_gender"] = {joint_label(it["gender"], it["age"]) for it in cache.items if it.get("gender") and it.get("age")}
    for task, names in config.labels.items():
        unknown = sorted(found.get(task, set()) - set(names))
        if unknown:
            problems.append(f"its {task} labels {unknown} are not among the model's {names}")
    if problems:
        raise SystemExit(f"cannot train on {', '.join(str(c.root) for c in cache.caches)}: " + "; ".join(problems))


def target_matrix(items: list[dict], labels: dict[str, list[str]]) -> np.ndarray:
    """(clips, tasks) class indices, -1 where a clip has no label for a task."""
    return np.array([targets(it, labels) for it in items], dtype=np.int64).reshape(-1, len(labels))


def age_targets(items: list[dict]) -> np.ndarray:
    """(clips, 3) float targets for the age-in-years head: exact years, and the age group's [low, high).

    NaN where unknown: Common Voice clips have only the group, clips without any age label have nothing.
    """
    out = np.full((len(items), 3), np.nan, dtype=np.float32)
    for row, it in zip(out, items):
        if it.get("age_years") is not None:
            row[0] = it["age_years"]
        if it.get("age") in AGE_GROUP_YEARS:
            row[1:] = AGE_GROUP_YEARS[it["age"]]
    return out


def stratum(item: dict) -> str:
    """The finest label a clip has, used to balance sampling."""
    return joint_label(item["gender"], item["age"])


def sampling_weights(items: list[dict], power: float = 0.5, speaker_cap: int = 10) -> np.ndarray:
    """Per-clip sampling weights.

    A speaker (`speaker_of`: an id within one corpus) with more than `speaker_cap` clips has its clips
    scaled down so that together they weigh as much as `speaker_cap` clips; then classes (gender x age, a
    missing label being its own stratum) are weighted by their capped clip count**-power (0 = natural
    frequencies, 1 = fully balanced).
    """
    speaker = [speaker_of(it) for it in items]
    clips = Counter(speaker)
    mass = np.array([min(1.0, speaker_cap / clips[s]) for s in speaker])
    strata = Counter()
    for it, m in zip(items, mass):
        strata[stratum(it)] += m
    w = np.array([m * strata[stratum(it)] ** -power for it, m in zip(items, mass)])
    return w / w.sum()


class CropBatches(torch.utils.data.Dataset):
    """Item i is a whole batch: (int16 crops (B, samples), class targets (B, tasks), age targets (B, 3)).

    Each crop is a random `length`-sample stretch of its clip; clips shorter than that wrap around.
    """

    def __init__(self, cache: "Cache | Corpora", items: list[dict], labels: dict[str, list[str]], length: int,
                 batches: list[np.ndarray], seed: int = 0):  # fmt: skip
        self.caches = cache.caches if isinstance(cache, Corpora) else [cache]
        self.length, self.batches, self.seed = length, batches, seed
        self.source = np.array([it.get("cache", 0) for it in items], dtype=np.int64)
        self.offsets = np.array([it["offset"] for it in items], dtype=np.int64)
        self.lengths = np.array([it["length"] for it in items], dtype=np.int64)
        self.targets = torch.from_numpy(target_matrix(items, labels))
        self.ages = torch.from_numpy(age_targets(items))
        self.epoch = 0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i: int):
        idx = self.batches[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        n = self.lengths[idx]
        span = np.where(n >= self.length, n - self.length + 1, n)
        start = np.minimum((rng.random(len(idx)) * span).astype(np.int64), span - 1)
        pos = self.offsets[idx][:, None] + (start[:, None] + np.arange(self.length)[None, :]) % n[:, None]
        crops = np.empty((len(idx), self.length), dtype="<i2")
        for c in np.unique(self.source[idx]):
            rows = self.source[idx] == c
            crops[rows] = self.caches[c].audio[pos[rows]]
        return torch.from_numpy(crops), self.targets[idx], self.ages[idx]


def epoch_batches(weights: np.ndarray, batch_size: int, epoch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`epoch_size` clip indices drawn with replacement by `weights`, cut into batches (last one dropped)."""
    draws = rng.choice(len(weights), size=epoch_size, replace=True, p=weights)
    n = max(1, epoch_size // batch_size)
    return [draws[i * batch_size : (i + 1) * batch_size] for i in range(n)]


def loader(cache, items, labels, config: ModelConfig, batch_size: int, epoch: int, seed: int, weights,
           workers: int = 0, pin: bool = False, epoch_size: int | None = None, rank: int = 0, world: int = 1):  # fmt: skip
    """A DataLoader over one epoch of balanced random crops.

    With `world` processes, every rank draws the same epoch and takes every `world`-th batch (wrapping
    around so that all ranks take the same number of steps).
    """
    from agegender.features import window_samples

    rng = np.random.default_rng([seed, epoch])
    batches = epoch_batches(weights, batch_size, epoch_size or len(items), rng)
    batches = [batches[(rank + world * i) % len(batches)] for i in range(max(1, len(batches) // world))]
    ds = CropBatches(cache, items, labels, window_samples(config), batches, seed)
    ds.epoch = epoch
    return torch.utils.data.DataLoader(
        ds, batch_size=None, shuffle=False, num_workers=workers, pin_memory=pin,
        persistent_workers=False, prefetch_factor=4 if workers else None,
    )  # fmt: skip


# -- on-device augmentation ------------------------------------------------------------------------


def band_limit(x: torch.Tensor, sample_rate: int, p: float = 0.3) -> torch.Tensor:
    """With probability `p` per clip, keep only a telephone band: 300-3400 Hz, or 0-4000 Hz (8 kHz audio).

    Done in the frequency domain on the whole crop; the other clips are returned unchanged.
    """
    b, n = x.shape
    chosen = torch.rand(b, 1, device=x.device) < p
    phone = torch.rand(b, 1, device=x.device) < 0.5
    freqs = torch.fft.rfftfreq(n, 1 / sample_rate).to(x.device)[None, :]
    keep = torch.where(phone, (freqs >= 300) & (freqs <= 3400), freqs <= 4000)
    limited = torch.fft.irfft(torch.fft.rfft(x) * keep, n=n)
    return torch.where(chosen, limited, x)


def mu_law(x: torch.Tensor, p: float = 0.15, channels: int = 256) -> torch.Tensor:
    """With probability `p` per clip, 8-bit mu-law coding (the telephone codec's quantisation noise)."""
    import torchaudio.functional as AF

    chosen = torch.rand(x.shape[0], 1, device=x.device) < p
    peak = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-4)
    coded = AF.mu_law_decoding(AF.mu_law_encoding(x / peak, channels), channels) * peak
    return torch.where(chosen, coded, x)


def to_a_share(x: torch.Tensor, p: float, change) -> torch.Tensor:
    """`change` applied to a random share `p` of the clips (rows) of x, the others unchanged."""
    chosen = torch.rand(x.shape[0], device=x.device) < p
    if not chosen.any():
        return x
    x = x.clone()
    x[chosen] = change(x[chosen])
    return x


def reverberate(x: torch.Tensor, sample_rate: int, rt60: tuple[float, float] = (0.2, 0.8),
                drr_db: tuple[float, float] = (-3.0, 12.0)) -> torch.Tensor:  # fmt: skip
    """A room: convolution with a synthetic impulse response, the direct sound plus exponentially decaying
    noise that reaches -60 dB after RT60 seconds, at a random direct-to-reverberant ratio. Level kept."""
    b, n = x.shape
    length = int(rt60[1] * sample_rate)
    t = torch.arange(length, device=x.device)[None, :] / sample_rate
    decay = torch.empty(b, 1, device=x.device).uniform_(*rt60)
    tail = torch.randn(b, length, device=x.device) * torch.exp(-6.91 * t / decay)
    tail[:, 0] = 0
    drr = torch.empty(b, 1, device=x.device).uniform_(*drr_db)
    tail = tail * torch.sqrt(10 ** (-drr / 10) / tail.pow(2).sum(dim=1, keepdim=True).clamp_min(1e-8))
    tail[:, 0] = 1.0
    size = n + length
    wet = torch.fft.irfft(torch.fft.rfft(x, n=size) * torch.fft.rfft(tail, n=size), n=size)[:, :n]
    return wet * torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) / wet.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-10))


def colour(x: torch.Tensor, sample_rate: int, db: float = 3.0) -> torch.Tensor:
    """A microphone's colouring: a smooth random gain curve over log-frequency (three cosines of random
    phase, at most one cycle per 2.5 octaves, about `db` dB standard deviation)."""
    b, n = x.shape
    freqs = torch.fft.rfftfreq(n, 1 / sample_rate).to(x.device)
    octaves = torch.log2(freqs.clamp_min(50.0) / 50.0)[None, :]  # 0 at 50 Hz, 7.3 at 8 kHz
    curve = torch.zeros(b, freqs.numel(), device=x.device)
    for _ in range(3):
        rate = torch.rand(b, 1, device=x.device) * 2 * math.pi / 2.5
        phase = torch.rand(b, 1, device=x.device) * 2 * math.pi
        curve += torch.randn(b, 1, device=x.device) * db / math.sqrt(1.5) * torch.cos(rate * octaves + phase)
    return torch.fft.irfft(torch.fft.rfft(x) * 10 ** (curve / 20), n=n)


class InARoom:
    """A cache (`Corpora`) whose every clip is heard in a synthetic room through a random microphone,
    the same for a clip on every read (seeded by its path): a fixed channel shift to evaluate on."""

    def __init__(self, cache: "Corpora"):
        self.cache = cache

    def __getattr__(self, name):
        return getattr(self.cache, name)

    def waveform(self, item: dict) -> np.ndarray:
        x = torch.from_numpy(self.cache.waveform(item))[None]
        with torch.random.fork_rng():
            torch.manual_seed(zlib.crc32(item["path"].encode()))
            return colour(reverberate(x, self.cache.sample_rate), self.cache.sample_rate)[0].numpy()


def mix_pairs(x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup of whole crops: each crop is mixed with a partner from the batch, brought to its loudness,
    the crop itself weighing `lam` >= 0.5 (the larger of a Beta(alpha, alpha) draw and its complement).
    Returns the mixtures, each crop's partner (indices) and `lam`; the loss mixes the labels alike."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    lam = max(lam, 1.0 - lam)
    partner = torch.randperm(x.shape[0], device=x.device)
    rms = x.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-4)
    return lam * x + (1 - lam) * x[partner] * (rms / rms[partner]), partner, lam


def augment_waveforms(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, gain_db: float = 6.0,
                      snr_db: tuple[float, float] = (10.0, 40.0), room: float = 0.0) -> torch.Tensor:  # fmt: skip
    """The channel, varied per clip: with probability `room` each, a room's reverberation and a microphone's
    colouring; then telephone band, mu-law coding, white or low-pass (brown-ish) noise at a random SNR, and
    gain (±gain_db). Pitch and formants are untouched."""
    b = x.shape[0]
    if room:
        x = to_a_share(x, room, lambda c: reverberate(c, sample_rate))
        x = to_a_share(x, room, lambda c: colour(c, sample_rate))
    x = mu_law(band_limit(x, sample_rate))
    power = x.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-8)
    snr = snr_db[0] + torch.rand(b, 1, device=x.device) * (snr_db[1] - snr_db[0])
    noise = torch.randn_like(x)
    smooth = torch.cumsum(noise, dim=1)  # integrated white noise: most of its power at low frequencies
    smooth = smooth - torch.linspace(0, 1, x.shape[1], device=x.device) * smooth[:, -1:]
    smooth = smooth / smooth.std(dim=1, keepdim=True).clamp_min(1e-8)
    noise = torch.where(torch.rand(b, 1, device=x.device) < 0.3, smooth, noise)
    x = x + noise * torch.sqrt(power / 10 ** (snr / 10))
    gain = 10 ** ((torch.rand(b, 1, device=x.device) * 2 - 1) * gain_db / 20)
    return x * gain


def spec_augment(spec: torch.Tensor, time_masks: int = 2, time_width: int = 25, freq_masks: int = 2,
                 freq_width: int | None = None) -> torch.Tensor:  # fmt: skip
    """SpecAugment-style masking of (B, mels, frames) log-mel: masked cells get each example's mean.
    A frequency mask is up to `freq_width` bands wide (default an eighth of them)."""
    b, m, t = spec.shape
    freq_width = m // 8 if freq_width is None else freq_width
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


def short_clips(spec: torch.Tensor, frame_seconds: float, p: float = 0.2,
                seconds: tuple[float, float] = (0.25, 2.0)) -> torch.Tensor:  # fmt: skip
    """With probability `p` per clip, keep only the first 0.25-2 s of (B, mels, frames) log-mel and repeat it
    to fill the window: what `agegender.features.split_windows` does at inference to a clip that short."""
    b, _, t = spec.shape
    chosen = torch.rand(b, device=spec.device) < p
    lo, hi = (max(1, round(s / frame_seconds)) for s in seconds)
    frames = torch.randint(lo, min(hi, t) + 1, (b,), device=spec.device)
    frames = torch.where(chosen, frames, torch.full_like(frames, t))
    index = torch.arange(t, device=spec.device)[None, :] % frames[:, None]  # (B, frames): tiled positions
    return torch.gather(spec, 2, index[:, None, :].expand_as(spec))


def steps_per_epoch(n_items: int, batch_size: int, world: int = 1) -> int:
    """Optimiser steps per epoch on each of `world` processes."""
    return max(1, math.floor(n_items / batch_size) // world)
