"""The launched app (`python app.py`) through gradio_client: predictions, errors, concurrent clients."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import soundfile as sf

from synth import voice

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False)


def test_api_lists_the_named_endpoints(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/classify", "/predict"} <= set(endpoints)


def test_predict_an_example_file(client, long_clip):
    result = client.predict(handle_file(str(long_clip)), api_name="/predict")
    assert set(result["labels"]) == {"gender", "age", "age_gender"}
    assert result["gender"] == result["labels"]["gender"]  # Prediction.to_dict() at the top level
    assert abs(sum(result["probabilities"]["gender"].values()) - 1) < 1e-3
    assert len(result["windows"]) > 1 and result["summary"]


def test_classify_returns_labels_and_figures(client, long_clip):
    summary, years, gender, age, joint, maps, overlay, gradcam, timeline, picker = client.predict(
        handle_file(str(long_clip)), api_name="/classify"
    )
    assert "%" in summary
    assert gender["label"] in ("female", "male") and len(gender["confidences"]) == 2
    assert age["label"] and joint["label"]
    for figure in (maps, overlay, gradcam, timeline):
        assert figure.startswith("<figure") and "Time (s)" in figure
    assert picker["value"] == f"gender/{gender['label']}"  # Grad-CAM explains the predicted gender


@pytest.mark.parametrize("name, expected", [("corrupt", "could not decode"), ("silence", "silent")])
def test_bad_file_gives_an_error_message(client, audio_files, name, expected):
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(audio_files[name])), api_name="/predict")
    assert expected in str(info.value).lower()
    assert "Traceback" not in str(info.value)
    # and the app keeps working
    assert client.predict(handle_file(str(audio_files["short_speech"])), api_name="/predict")["labels"]


def test_concurrent_clients_all_get_answers(server, audio_files, long_clip):
    clips = [long_clip, audio_files["five_seconds"], audio_files["short_speech"]] * 2

    def ask(clip):
        return Client(server, verbose=False).predict(handle_file(str(clip)), api_name="/predict")

    with ThreadPoolExecutor(max_workers=len(clips)) as pool:
        results = list(pool.map(ask, clips))
    assert len(results) == len(clips)
    assert all(r["labels"]["gender"] in ("female", "male") for r in results)
    assert results[0]["probabilities"] == results[3]["probabilities"]  # same clip, same answer


def test_uploads_are_deleted_once_analysed(server_temp, client, long_clip, audio_files):
    client.predict(handle_file(str(audio_files["five_seconds"])), api_name="/predict")
    client.predict(handle_file(str(audio_files["short_speech"])), api_name="/classify")
    for _ in range(120):  # the grace period, then the sweeper
        names = {p.name for p in server_temp.rglob("*") if p.is_file()}
        if "five_seconds.wav" not in names and "short_speech.wav" not in names:
            break
        time.sleep(0.5)
    assert "five_seconds.wav" not in names and "short_speech.wav" not in names


def test_sigterm_deletes_every_upload(tmp_path, audio_files):
    """A normal stop (SIGTERM) deletes every upload, analysed or not, even with requests still in flight."""
    import signal

    import httpx

    from appserver import launch

    temp = tmp_path / "gradio_tmp"
    with launch(tmp_path, temp) as (proc, url):
        clip = tmp_path / "left_behind.wav"
        sf.write(clip, voice(2.0), 16000)
        with open(clip, "rb") as f:
            answer = httpx.post(url + "gradio_api/upload", files={"files": (clip.name, f, "audio/wav")}, timeout=30)
        (uploaded,) = answer.json()
        assert Path(uploaded).is_file()
        client = Client(url, verbose=False)
        for _ in range(4):
            client.submit(handle_file(str(audio_files["five_seconds"])), api_name="/predict")
        while not list(temp.rglob("five_seconds.wav")):  # on the server: the requests are queued or running
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=180) is not None
    assert not Path(uploaded).exists()
    assert not [p for p in temp.rglob("*") if p.is_file()]
    assert not [p for p in temp.iterdir() if p.is_dir() and any(p.iterdir())]  # nor folders of uploads


def test_a_port_in_use_is_refused_in_one_line(tmp_path):
    """Two copies of the demo on one port: the second says which port and how to choose another."""
    import socket
    import subprocess
    import sys

    from appserver import ROOT

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in run.stderr and "--port N" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
