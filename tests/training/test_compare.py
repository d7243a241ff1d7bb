"""training.compare: two models on the same clips, with speaker-bootstrap intervals of their difference."""

import json

import numpy as np
import pytest

from agegender.classifier import AgeGenderClassifier
from agegender.config import ModelConfig
from training import compare, prepare
from training.data import Corpora, speaker_of, target_matrix


@pytest.fixture
def cache(manifest_corpus, tmp_path):
    root = tmp_path / "cache"
    prepare.main(["--data", str(manifest_corpus / "manifest.csv"), "--cache", str(root), "--workers", "1", "--seed", "5"])
    return Corpora([root])


def test_a_model_right_where_the_other_is_wrong_is_better_beyond_the_speakers_drawn(cache, tiny_model, monkeypatch):
    items = cache.split("train")  # the most speakers of the tiny corpus
    labels = tiny_model.config.labels
    truth = np.maximum(target_matrix(items, labels), 0)
    speakers = sorted({speaker_of(it) for it in items})
    misheard = np.array([speakers.index(speaker_of(it)) % 2 == 0 for it in items])  # half the speakers
    wrong = truth.copy()
    wrong[misheard] = (truth[misheard] + 1) % np.array([len(v) for v in labels.values()])
    answers = iter([truth, wrong, wrong, wrong])
    monkeypatch.setattr(compare, "answered_classes", lambda *a: next(answers))

    r = compare.compare(tiny_model, tiny_model, cache, "train", draws=200)
    assert r["a"]["score"] == 1.0 and r["b"]["score"] < 0.8
    assert r["a"]["ci95"] == [1.0, 1.0] and r["b"]["ci95"][0] < r["b"]["score"] < r["b"]["ci95"][1]
    assert 0 < r["difference_ci95"][0] <= r["difference"] <= r["difference_ci95"][1] and r["a_ahead"] == 1.0
    assert "is better beyond the speakers drawn" in compare.report(r)

    same = compare.compare(tiny_model, tiny_model, cache, "train", draws=200)  # identical answers: no difference at all
    assert same["difference"] == 0 and same["difference_ci95"] == [0.0, 0.0] and same["a_ahead"] == 0
    assert "no evidence either is better" in compare.report(same)


def test_cli_scores_two_saved_models_and_refuses_models_with_other_classes(cache, tiny_model_dir, tmp_path, capsys):
    root = str(cache.caches[0].root)
    out = tmp_path / "compare.json"
    compare.main([str(tiny_model_dir), str(tiny_model_dir), "--data", root, "--draws", "50", "--out", str(out)])
    r = json.loads(out.read_text())
    assert r["difference"] == 0 and r["a"]["score"] == r["b"]["score"] and r["speakers"] > 1
    assert r["a"]["model"] == str(tiny_model_dir) and "pooled score" in capsys.readouterr().out

    gender_only = tmp_path / "gender_only"
    AgeGenderClassifier(ModelConfig(width=0.125, labels={"gender": ["female", "male"]})).save_pretrained(gender_only)
    with pytest.raises(SystemExit, match="different tasks or classes"):
        compare.main([str(gender_only), str(tiny_model_dir), "--data", root])
    with pytest.raises(SystemExit, match="no model directory"):
        compare.main(["./nowhere", str(tiny_model_dir), "--data", root])
    with pytest.raises(SystemExit, match="no prepared cache at"):
        compare.main([str(tiny_model_dir), str(tiny_model_dir), "--data", str(tmp_path / "nowhere")])
