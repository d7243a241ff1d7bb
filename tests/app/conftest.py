"""Fixtures for the demo tests: the bundled model, audio files (good and bad) and a launched app."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agegender.audio import MIN_SPEECH_SECONDS

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "artifacts" / "screenshots"
RATE = 16000


@pytest.fixture(scope="session")
def demo():
    from demo.analysis import Demo

    return Demo.load()  # the bundled checkpoint


@pytest.fixture(scope="session")
def long_clip() -> Path:
    """An example clip longer than one 2.56 s window, so it has a timeline."""
    return EXAMPLES / "en_male.wav"


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory) -> dict[str, Path]:
    """Good and bad inputs, written once."""
    d = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    speech, rate = sf.read(EXAMPLES / "fr_female.wav", dtype="float32")
    files = {
        "short_speech": d / "short_speech.wav",  # 1.5 s: a single window, no timeline
        "silence": d / "silence.wav",
        "too_short": d / "too_short.wav",
        "too_long": d / "too_long.wav",
        "corrupt": d / "corrupt.wav",
        "empty": d / "empty.wav",
        "not_audio": d / "notes.txt",
        "five_seconds": d / "five_seconds.wav",
    }
    start = int(0.3 * rate)
    sf.write(files["short_speech"], speech[start : start + int(1.5 * rate)], rate)
    sf.write(files["silence"], np.zeros(3 * RATE, dtype=np.float32), RATE)
    sf.write(files["too_short"], speech[start : start + int(0.6 * MIN_SPEECH_SECONDS * rate)], rate)
    sf.write(files["too_long"], np.tile(speech, 14)[: 70 * rate], rate)  # 70 s > the 60 s limit
    sf.write(files["five_seconds"], np.tile(speech, 2)[: 5 * rate], rate)
    files["corrupt"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + rng.bytes(200))
    files["empty"].write_bytes(b"")
    files["not_audio"].write_text("this is not audio\n")
    return files


@pytest.fixture(scope="session")
def server_work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="session")
def server_temp(server_work) -> Path:
    """The launched app's gradio temp folder (uploads land here)."""
    return server_work / "gradio_tmp"


@pytest.fixture(scope="session")
def server(server_work, server_temp):
    """`python app.py` on a free localhost port with the bundled model; yields its URL."""
    from appserver import launch

    with launch(server_work, server_temp) as (_, url):
        yield url
