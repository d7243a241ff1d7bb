"""DistributedDataParallel: two CPU processes (gloo) started by torchrun train one model on a tiny cache."""

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agegender.classifier import AgeGenderClassifier
from agegender.config import ModelConfig, default_labels
from training import prepare
from training.data import Corpora, loader, sampling_weights, steps_per_epoch

ROOT = Path(__file__).resolve().parents[2]

needs_gloo = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this build of torch",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "training.train", *args]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_ranks_split_the_epoch_batches(manifest_corpus, tmp_path):
    prepare.main(["--data", str(manifest_corpus / "manifest.csv"), "--cache", str(tmp_path / "cache"), "--workers", "1"])
    cache = Corpora([tmp_path / "cache"])
    items = cache.split("train")
    labels = {"gender": default_labels()["gender"]}
    weights = sampling_weights(items)

    def batches(rank=0, world=1):
        return [b.tolist() for b in loader(cache, items, labels, ModelConfig(labels=labels), 4, 1, 0, weights,
                                           epoch_size=32, rank=rank, world=world).dataset.batches]  # fmt: skip

    whole, shards = batches(), [batches(r, 2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(whole) // 2
    assert shards[0] + shards[1] == whole[0::2] + whole[1::2]


@needs_gloo
def test_two_processes_share_each_epoch_and_resume(manifest_corpus, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "model"
    prepare.main(["--data", str(manifest_corpus / "manifest.csv"), "--cache", str(cache), "--workers", "1"])
    common = ["--data", str(cache), "--out", str(out), "--width", "0.125", "--batch-size", "8", "--epoch-size", "32",
              "--device", "cpu", "--lr", "1e-3"]  # fmt: skip
    first = torchrun(*common, "--epochs", "1")
    assert first.count("epoch   1") == 1  # only rank 0 reports
    torchrun(*common, "--epochs", "2", "--resume")
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    single_epoch = steps_per_epoch(32, 8) * 8  # what one process trains on per epoch
    assert all(int(r["clips"]) == single_epoch for r in rows)  # split between the ranks, not repeated
    assert (out / "state.pt").is_file() and (out / "gender_bias.json").is_file()
    model = AgeGenderClassifier.from_pretrained(out)
    assert model.config.width == 0.125
