"""Uploads are deleted once analysed (never other files), and the live mode follows speech and pauses."""

import os
import time
from concurrent.futures import Future

import numpy as np
import pytest
import soundfile as sf

from demo import live
from demo.uploads import Uploads
from synth import voice

pytestmark = pytest.mark.filterwarnings("ignore:.*:UserWarning:gradio.helpers")


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    folder = tmp_path / "gradio"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def test_discard_deletes_uploads_only(upload_dir, tmp_path, long_clip):
    uploads = Uploads(keep=[long_clip], grace=0)
    recording = upload_dir / "abc123" / "audio.wav"
    recording.parent.mkdir()
    sf.write(recording, voice(2.0), 16000)
    example_copy = upload_dir / "def456" / long_clip.name
    example_copy.parent.mkdir()
    example_copy.write_bytes(long_clip.read_bytes())
    elsewhere = tmp_path / "mine.wav"
    sf.write(elsewhere, voice(2.0), 16000)
    assert uploads.discard(recording) and not recording.exists()
    assert recording.parent.is_dir()  # gradio may be moving the same content into it again
    assert not uploads.discard(example_copy) and example_copy.exists()  # shared by every visitor
    assert not uploads.discard(elsewhere) and elsewhere.exists()  # not gradio's
    assert not uploads.discard(None) and not uploads.discard(upload_dir / "gone.wav")


def test_page_analysis_deletes_the_upload_and_keeps_the_clip(demo, upload_dir, audio_files):
    path = upload_dir / "x" / "speech.wav"
    path.parent.mkdir()
    path.write_bytes(audio_files["five_seconds"].read_bytes())
    first = demo.classify(str(path), None)
    _age(path, demo.uploads.grace + 1)
    demo.uploads.sweep(time.monotonic() + demo.uploads.grace + 1)  # the grace period has passed
    assert not path.exists()
    again = demo.classify(str(path), first[-1])  # Classify again: the clip kept in the session
    assert again[2] == first[2] and "%" in again[0]
    other = demo.explain("gender/male", first[-1])  # Grad-CAM for another label, same clip
    assert "male (gender)" in other and other != first[7]


def test_api_prediction_deletes_the_upload(demo, upload_dir, audio_files):
    path = upload_dir / "y" / "speech.wav"
    path.parent.mkdir()
    path.write_bytes(audio_files["five_seconds"].read_bytes())
    assert demo.predict(str(path))["labels"]["gender"] in ("female", "male")
    assert path.exists()  # another request for the same upload may still come within the grace period
    _age(path, demo.uploads.grace + 1)
    demo.uploads.sweep(time.monotonic() + demo.uploads.grace + 1)
    assert not path.exists()


def test_an_upload_written_again_gets_its_own_grace_period(upload_dir, audio_files):
    """Identical uploads share one path: a second upload after the first analysis must survive its timer."""
    uploads = Uploads(grace=30)
    path = upload_dir / "z" / "speech.wav"
    path.parent.mkdir()
    path.write_bytes(audio_files["five_seconds"].read_bytes())
    _age(path, 31)
    assert uploads.discard(path)  # first request analysed it
    path.write_bytes(audio_files["five_seconds"].read_bytes())  # the same file uploaded again
    uploads.sweep(time.monotonic() + 31)  # the first request's time is up...
    assert path.exists()  # ...but the second request has not read it yet
    _age(path, 31)
    uploads.sweep(time.monotonic() + 62)
    assert not path.exists()


def _age(path, seconds):
    """Make `path` look written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def chunks(samples: np.ndarray, rate: int, seconds: float):
    step = int(seconds * rate)
    for i in range(0, len(samples) - step + 1, step):
        yield rate, (samples[i : i + step] * 32767).astype(np.int16)


class InlinePool:
    """Runs each analysis at once, so its result comes back from the step that started it."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


def test_live_mode_follows_speech_and_says_no_speech_in_pauses(demo):
    stream = live.Live(demo, pool=InlinePool())
    rate = 48000
    speech = voice(3.0, rate, name="fr_female")
    pause = np.zeros(int(1.5 * rate), np.float32)
    state, seen, views = None, [], []
    for chunk in chunks(np.concatenate([pause[: rate // 2], speech, pause]), rate, live.UPDATE_SECONDS):
        status, gender, age, view, state = stream.step(chunk, state)
        seen.append((status, gender))
        views += [view] if gender else []
        assert len(state.audio) <= live.VIEW_SECONDS * rate
    assert seen[0][0] == live.NO_SPEECH and seen[0][1] is None  # silence first
    spoken = [gender for status, gender in seen[1:7] if gender]
    assert len(spoken) >= 4 and all(set(g) == {"female", "male"} for g in spoken)
    assert all("(0 = now)" in v and ">0</span>" in v and "Time att." in v for v in views)  # a scrolling view
    assert seen[-1][0] == live.NO_SPEECH and seen[-1][1] is None  # and the pause after it
    assert stream.reset()[0] == live.WAITING


def test_live_steps_keep_every_chunk_and_analyse_in_the_background(demo):
    """The browser's 0.1 s chunks: each step only stores its chunk; an analysis starts every 0.5 s of audio."""
    stream = live.Live(demo)
    rate = 48000
    state, updates, audio = None, [], 0
    for chunk in chunks(voice(3.0, rate, name="fr_female"), rate, 0.1):
        _, gender, *_, state = stream.step(chunk, state)
        audio += len(chunk[1])
        assert len(state.audio) == min(audio, live.VIEW_SECONDS * rate)  # every chunk kept
        if gender != live.UNCHANGED[1]:
            updates.append(gender)
        if state.running:
            state.running.result()  # let the analysis finish: its result comes with the next chunk
    assert len(updates) == 5 and all(set(g) == {"female", "male"} for g in updates[1:])
