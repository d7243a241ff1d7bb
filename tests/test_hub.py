"""Loading by Hub id, offline, from a real Hugging Face cache layout."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ID = "someone/agegender-tiny"


def add_to_hub_cache(cache: Path, repo_id: str, model_dir: Path) -> str:
    """Lay out `model_dir` as huggingface_hub does: blobs, snapshots/<commit> symlinks, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    for name in ("config.json", "model.safetensors"):
        data = (model_dir / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return commit


@pytest.fixture
def offline_env(tmp_path, tiny_model_dir):
    cache = tmp_path / "hub"
    add_to_hub_cache(cache, REPO_ID, tiny_model_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "AGEGENDER_"))}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}


def run(args, env):
    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, *args], env=env, cwd=root, capture_output=True, text=True, timeout=120)


def test_hub_id_resolves_from_the_cache_offline(offline_env):
    code = (
        "from agegender import AgeGenderClassifier;"
        f"m = AgeGenderClassifier.from_pretrained('{REPO_ID}');"
        "print(m.config.width, m.source)"
    )
    proc = run(["-c", code], offline_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0.125", REPO_ID]


def test_hub_id_through_cli_and_environment(offline_env, make_wav):
    proc = run(["-m", "agegender", "predict", str(make_wav()), "--json"], {**offline_env, "AGEGENDER_MODEL": REPO_ID})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["gender"] in ("female", "male")


def test_unknown_hub_id_offline_is_a_one_line_error(offline_env, make_wav):
    proc = run(["-m", "agegender", "predict", str(make_wav()), "--model", "nobody/missing"], offline_env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: could not load model nobody/missing")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_hub_repo_without_config_is_an_error(monkeypatch, tiny_model_dir):
    """The mixin logs a config.json missing on the Hub and goes on with defaults; we refuse instead."""
    import httpx2
    from huggingface_hub import hub_mixin
    from huggingface_hub.errors import RemoteEntryNotFoundError

    from agegender import AgeGenderClassifier

    def download(repo_id, filename, **kwargs):
        if filename == "config.json":
            response = httpx2.Response(404, request=httpx2.Request("GET", "https://huggingface.co"))
            raise RemoteEntryNotFoundError("404: config.json", response=response)
        return str(tiny_model_dir / filename)

    monkeypatch.setattr(hub_mixin, "hf_hub_download", download)
    monkeypatch.setattr("agegender.classifier.hf_hub_download", download)
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        AgeGenderClassifier.from_pretrained(REPO_ID)
