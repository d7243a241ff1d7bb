"""The model card from a real two-corpus run, the same from push_to_hub and training.push; cache checks."""

import csv
import json
import shlex
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from agegender import AgeGenderClassifier, ModelConfig
from training import evaluate, prepare, push, train
from training.data import Corpora, check_cache
from training.prepare import INDEX, META


def make_cache(root, clip_maker, name: str, years: bool):
    rows = clip_maker(root / name, 32)
    for i, r in enumerate(rows):
        r["path"] = f"clips/{r['path']}"
        r["age_years"] = 20 + 10 * ["teens", "twenties", "thirties", "fourties", "fifties", "sixties"].index(r["age"]) if years else ""
    with open(root / name / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "gender", "age", "speaker", "age_years"])
        w.writeheader()
        w.writerows(rows)
    cache = root / "cache" / name
    prepare.main(["--data", str(root / name / "manifest.csv"), "--cache", str(cache), "--workers", "1", "--seed", "3",
                  "--corpus", name])  # fmt: skip
    return str(cache)


@pytest.fixture
def run(tmp_path, clip_maker):
    """A tiny model trained and evaluated on a CC0 corpus and a non-commercial one (named as the real ones)."""
    caches = [make_cache(tmp_path, clip_maker, "commonvoice", False),
              make_cache(tmp_path, clip_maker, "speech_accent_archive", True)]  # fmt: skip
    out = tmp_path / "model"
    argv = ["--data", *caches, "--out", str(out), "--epochs", "1", "--batch-size", "16", "--width", "0.125",
            "--device", "cpu", "--patience", "3"]  # fmt: skip
    train.main(argv)
    evaluate.main(["--model", str(out), "--data", *caches, "--split", "train"])
    return out, argv


def test_card_lists_corpora_licences_metrics_and_the_command(run, monkeypatch):
    """One run for both checks (training twice is slow): the card's content, then push_to_hub's copy of it."""
    out, argv = run
    card = ModelCard(push.model_card(out, "someone/agegender-test"))
    assert shlex.join(["python", "-m", "training.train", *argv]) in card.text  # --patience included
    assert card.data.license == "cc-by-nc-sa-2.0" and "Non-commercial use only" in card.text
    assert "| Mozilla Common Voice | CC0-1.0 | yes |" in card.text
    metrics = json.loads((out / "metrics.json").read_text())
    results = {(r.dataset_type, r.dataset_config, r.metric_name): r.metric_value for r in card.data.eval_results}
    for corpus in ("commonvoice", "speech_accent_archive"):
        s = metrics["corpora"][corpus]["tasks"]["gender"]
        assert results[(corpus, "gender", "macro-F1")] == round(s["macro_f1"], 4)
        assert results[(corpus, "gender", "UAR (balanced accuracy)")] == round(s["uar"], 4)
        assert results[(corpus, "gender", "female recall")] == round(s["per_class"]["female"]["recall"], 4)
        assert results[(corpus, "gender", "male recall")] == round(s["per_class"]["male"]["recall"], 4)
        assert f"| {corpus} | gender | {s['n']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} |" in card.text
    mae = metrics["corpora"]["speech_accent_archive"]["age_years"]["mae"]
    assert results[("speech_accent_archive", "age_years", "age MAE (years)")] == round(mae, 4)
    assert ("commonvoice", "age_years", "age MAE (years)") not in results  # no exact ages there

    from huggingface_hub import hub_mixin

    uploaded = {}

    class FakeApi:
        def __init__(self, *args, **kwargs):
            pass

        def create_repo(self, repo_id, **kwargs):
            return type("Repo", (), {"repo_id": repo_id})()

        def upload_folder(self, *, folder_path, **kwargs):
            uploaded["card"] = (Path(folder_path) / "README.md").read_text()

    monkeypatch.setattr(hub_mixin, "HfApi", FakeApi)
    AgeGenderClassifier.from_pretrained(out).push_to_hub("someone/agegender-test")
    assert uploaded["card"] == push.model_card(out, "someone/agegender-test")


@pytest.fixture
def cache(tmp_path, manifest_corpus):
    path = tmp_path / "cache"
    prepare.main(["--data", str(manifest_corpus / "manifest.csv"), "--cache", str(path), "--workers", "1"])
    return path


def test_cache_at_another_sample_rate_is_refused(cache):
    meta = json.loads((cache / META).read_text())
    (cache / META).write_text(json.dumps({**meta, "sample_rate": 8000}))
    with pytest.raises(SystemExit, match="its audio is at 8000 Hz but the model takes 16000 Hz"):
        check_cache(Corpora([cache]), ModelConfig())


def test_cache_with_labels_the_model_does_not_know_is_refused(cache, tmp_path):
    check_cache(Corpora([cache]), ModelConfig())  # the cache as prepared is fine
    lines = (cache / INDEX).read_text().splitlines()
    item = json.loads(lines[0])
    lines[0] = json.dumps({**item, "age": "seventies"})
    (cache / INDEX).write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit, match=r"its age labels \['seventies'\] are not among"):
        train.main(["--data", str(cache), "--out", str(tmp_path / "m"), "--width", "0.125", "--device", "cpu"])
