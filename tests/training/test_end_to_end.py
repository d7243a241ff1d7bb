"""prepare -> train (CPU, 2 epochs, tiny width) -> evaluate -> from_pretrained -> predict -> model card."""

import json

from agegender.classifier import AgeGenderClassifier
from training import evaluate, prepare, push, train
from synth import voice
from training.data import Cache


def test_prepare_train_evaluate_load_predict(manifest_corpus, tmp_path, capsys):
    cache = tmp_path / "cache"
    prepare.main(["--data", str(manifest_corpus / "manifest.csv"), "--cache", str(cache), "--workers", "2", "--seed", "5"])
    assert len(Cache(cache).items) == 48
    prepare.main(["--data", str(manifest_corpus / "manifest.csv"), "--cache", str(cache)])  # resumes: no work
    assert "'clips': 48" in capsys.readouterr().out
    assert Cache(cache).meta["seed"] == 5  # resuming keeps the split

    out = tmp_path / "model"
    args = ["--data", str(cache), "--out", str(out), "--epochs", "2", "--batch-size", "16", "--lr", "1e-3",
            "--width", "0.125", "--device", "cpu"]  # fmt: skip
    train.main(args)
    for name in ("config.json", "model.safetensors", "log.csv", "curves.png", "state.pt"):
        assert (out / name).is_file(), name
    train.main(args + ["--epochs", "3", "--resume"])  # continues at epoch 3
    assert len((out / "log.csv").read_text().strip().splitlines()) == 1 + 3

    evaluate.main(["--model", str(out), "--data", str(cache), "--split", "train"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["tasks"]) == {"gender", "age", "age_gender"}
    for s in metrics["tasks"].values():
        assert {"accuracy", "macro_f1", "uar", "majority_accuracy", "per_class", "confusion", "labels"} <= set(s)
    assert (out / "confusion.png").is_file()

    model = AgeGenderClassifier.from_pretrained(out)
    p = model.predict(voice(3.0), sample_rate=16000)  # the tones it learnt from are not speech
    assert p.gender in ("female", "male") and abs(sum(p.probabilities["age"].values()) - 1) < 1e-3
    assert p.age_years is not None and p.age_gender == f"{p.gender}-{p.age}"

    card = push.model_card(out, repo_id="someone/agegender-test")
    assert card.startswith("---\n") and "license:" in card and "| gender |" in card
    push.write_card(out, repo_id="someone/agegender-test")
    assert (out / "README.md").read_text() == card
