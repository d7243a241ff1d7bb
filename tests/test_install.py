"""`pip install .` into a fresh virtual environment gives the library, the `agegender` command and the model."""

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "agegender", "checkpoints"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A new venv that sees this environment's packages (no torch download) and has only agegender installed."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(purelib, "parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-build-isolation", "--no-index", str(src)], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return env_dir


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AGEGENDER_MODEL", "VIRTUAL_ENV")}


def test_installed_package_is_used_with_its_bundled_model(venv, tmp_path):
    code = "import agegender, agegender.classifier as c; print(agegender.__file__); print(c.BUNDLED_MODEL)"
    proc = subprocess.run([venv / "bin" / "python", "-c", code], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, check=True)  # fmt: skip
    package, model = (Path(line) for line in proc.stdout.splitlines())
    assert package.is_relative_to(venv) and model == package.parent / "checkpoints"
    assert (model / "config.json").is_file() and (model / "model.safetensors").is_file()


def test_console_command_runs_outside_the_checkout(venv, tmp_path, make_wav):
    clip = make_wav("clip.wav")
    proc = subprocess.run([venv / "bin" / "agegender", "predict", str(clip), "--json"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["file"] == str(clip) and record["gender"] in ("female", "male")


def test_requirements_txt_covers_the_package_and_the_page():
    """requirements.txt (what a Space installs) lists every dependency of the library and the `demo` extra."""
    import re

    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["demo"]
    listed = (ROOT / "requirements.txt").read_text().splitlines()

    def name(line: str) -> str:
        return re.split(r"[<>=!~\[ ;#]", line.strip(), maxsplit=1)[0].lower()

    assert {name(r) for r in wanted} <= {name(line) for line in listed if line.strip() and not line.startswith("#")}
