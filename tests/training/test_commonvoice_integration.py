"""A short real-data run on the Common Voice sample beside the repository, when it is there."""

from pathlib import Path

import pytest

from agegender.classifier import AgeGenderClassifier
from training import prepare, train
from training.datasets import read_commonvoice

CV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "commonvoice"


@pytest.mark.skipif(not (CV / "validated.tsv").is_file(), reason=f"no Common Voice sample at {CV}")
def test_train_briefly_on_commonvoice(tmp_path):
    records, skipped = read_commonvoice(CV)
    assert len(records) > 1000 and {r.gender for r in records} >= {"female", "male", None}
    by_speaker = {}
    for r in records:
        by_speaker.setdefault(r.speaker, []).append(r)
    few = [r for clips in list(by_speaker.values())[::4] for r in clips[:2]][:240]  # many speakers, 2 clips each
    cache = tmp_path / "cache"
    prepare.prepare(few, cache, workers=2, quiet=True)
    out = tmp_path / "model"
    train.main(["--data", str(cache), "--out", str(out), "--epochs", "1", "--batch-size", "32",
                "--width", "0.125", "--device", "cpu", "--max-clips", "200"])  # fmt: skip
    model = AgeGenderClassifier.from_pretrained(out)
    assert model.predict(few[0].path).gender in ("female", "male")
