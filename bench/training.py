"""Training throughput: steady-state clips/s and the share of step time spent waiting for data.

    python -m bench.training [--clips 2000] [--cpu-steps 12] [--gpu-steps 60] [--width 0.5]

Runs the real training step (`training.train.train_step`: int16 crops from a memory-mapped cache ->
gain/noise -> log-mel -> SpecAugment -> MAM-CNN -> multi-task loss -> AdamW) on a synthetic cache, so it
needs no corpus. On CPU and, when CUDA is available, on the GPU, each in float32 and with bf16 autocast.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from agegender.config import ModelConfig
from training.data import Cache, loader, sampling_weights
from training.datasets import AGE_MAP
from training.prepare import AUDIO, INDEX, META
from training.train import build_model, train_step


def synthetic_cache(root: Path, clips: int, seconds: float = 4.0, rate: int = 16000, seed: int = 0) -> Cache:
    """`clips` random int16 clips of about `seconds` with random labels, written in the prepare format."""
    rng = np.random.default_rng(seed)
    lengths = (rng.uniform(0.5, 1.5, clips) * seconds * rate).astype(np.int64)
    audio = np.memmap(root / AUDIO, dtype="<i2", mode="w+", shape=(int(lengths.sum()),))
    audio[:] = rng.integers(-3000, 3000, size=audio.shape, dtype=np.int16)
    audio.flush()
    ages = sorted(set(AGE_MAP.values()))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    with open(root / INDEX, "w") as f:
        for i, (o, n) in enumerate(zip(offsets, lengths)):
            row = {"path": f"clip{i}", "gender": ["female", "male"][i % 2], "age": ages[i % len(ages)],
                   "speaker": f"s{i // 3}", "split": "train", "offset": int(o), "length": int(n)}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    (root / META).write_text(json.dumps({"sample_rate": rate, "seed": 0}))
    return Cache(root)


def measure(cache: Cache, device: str, amp: bool, width: float, batch: int, steps: int, workers: int, warmup: int = 3):
    config = ModelConfig(width=width, age_years=True)
    model = build_model(config, device).train()
    opt = torch.optim.AdamW(model.net.parameters(), lr=1e-3)
    items = cache.items
    weights = sampling_weights(items)
    tasks = config.tasks
    dl = loader(cache, items, config.labels, config, batch, 0, 0, weights, workers, device == "cuda",
                epoch_size=batch * (steps + warmup))  # fmt: skip
    wait = total = 0.0
    n = 0
    t_prev = time.time()
    for i, (crops, y, ages) in enumerate(dl):
        t_got = time.time()
        loss, _, _ = train_step(model, opt, crops, y, tasks, amp, True, 0.1, ages)
        loss.item()  # waits for the device
        t_done = time.time()
        if i >= warmup:
            wait += t_got - t_prev
            total += t_done - t_prev
            n += len(y)
        t_prev = t_done
    return n / total, wait / total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=2000)
    ap.add_argument("--width", type=float, default=0.5, help="CPU model width (the bundled model's)")
    ap.add_argument("--cpu-batch", type=int, default=64)
    ap.add_argument("--cpu-steps", type=int, default=12)
    ap.add_argument("--gpu-width", type=float, default=1.0)
    ap.add_argument("--gpu-batch", type=int, default=256)
    ap.add_argument("--gpu-steps", type=int, default=60)
    ap.add_argument("--workers", type=int, default=6, help="loader processes on GPU")
    args = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        cache = synthetic_cache(Path(tmp), args.clips)
        print(f"synthetic cache: {args.clips} clips; torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
        print(f"{'device':<34}{'width':>6}{'batch':>6}{'clips/s':>10}{'data wait':>11}")
        runs = [("cpu fp32", False, args.width, args.cpu_batch, args.cpu_steps, 0),
                ("cpu bf16", True, args.width, args.cpu_batch, args.cpu_steps, 0)]
        if torch.cuda.is_available():
            name = torch.cuda.get_device_name()
            runs += [(f"cuda fp32 ({name})", False, args.gpu_width, args.gpu_batch, args.gpu_steps, args.workers),
                     (f"cuda bf16 ({name})", True, args.gpu_width, args.gpu_batch, args.gpu_steps, args.workers)]  # fmt: skip
        else:
            print("(no CUDA device: GPU figures skipped)")
        for label, amp, width, batch, steps, workers in runs:
            device = "cuda" if label.startswith("cuda") else "cpu"
            rate, wait = measure(cache, device, amp, width, batch, steps, workers)
            print(f"{label:<34}{width:>6}{batch:>6}{rate:>10.1f}{wait:>10.1%}", flush=True)


if __name__ == "__main__":
    main()
