"""The functions behind the page, called directly: results, figures and the message for each bad input."""

import base64
import io
import json
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from agegender import AgeGenderClassifier, ModelConfig, Prediction, WindowResult
from agegender.audio import MIN_SPEECH_SECONDS
from demo import card, figures, labels, text
from demo.analysis import Demo
from demo.card import ModelFacts

ROOT = Path(__file__).resolve().parents[2]

# Outside a running page, gr.Warning (the toast for bad audio) is a Python UserWarning.
pytestmark = pytest.mark.filterwarnings("ignore:.*:UserWarning:gradio.helpers")


def images(html: str) -> list[np.ndarray]:
    """The PNG images inlined in a figure, as (rows, cols, 3) arrays."""
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u))).convert("RGB")) for u in uris]


def test_analyse_gives_labels_summary_and_figures(demo, long_clip):
    a = demo.analyse(str(long_clip))
    for task in ("gender", "age", "age_gender"):
        probs = a.labels[task]
        assert probs and abs(sum(probs.values()) - 1) < 1e-3
    assert a.labels["gender"].keys() == {"female", "male"}
    assert ("placeholder" in a.summary) == demo.facts.placeholder and "%" in a.summary
    for words in ("Time (s)", "Frequency (Hz)", "Power (dB)", "Time att.", "Frequency attention"):
        assert words in a.maps  # seconds, Hz, a colour scale and both gates
    assert "Gate weight (time x frequency)" in a.overlay and "Grad-CAM" in a.gradcam
    assert "Probability" in a.timeline and "Time (s)" in a.timeline
    assert set(a.timings) == {"load", "predict", "draw"}
    assert len(images(a.maps)) == 1 and len(images(a.overlay)) == 1 and len(images(a.gradcam)) == 1


def test_figures_use_the_prediction_that_made_the_labels(demo, long_clip):
    a = demo.analyse(str(long_clip))
    pred = a.prediction
    frames = pred.spectrogram.shape[1]
    (picture,) = images(a.maps)
    assert picture.shape == (64, frames, 3)
    assert np.array_equal(picture[::-1], figures.spectrogram_rgb(pred.spectrogram))  # low bands at the bottom
    seconds = frames * demo.clf.config.frame_seconds
    assert figures._x_axis(figures.time_ticks(seconds)) in a.maps  # the time axis spans this clip
    assert pred.time_attention.shape == (frames,)
    assert np.allclose(figures.attention_overlay(pred), np.outer(pred.freq_attention, pred.time_attention))


def test_axes_ticks_are_in_seconds_and_hz(demo):
    ticks = dict(figures.hz_ticks(demo.clf.config))
    assert list(ticks) == ["200", "500", "1k", "2k", "4k"]
    assert all(0 < top < 100 for top in ticks.values()) and ticks["200"] > ticks["4k"]  # low is at the bottom
    assert figures.time_ticks(4.4) == [(f"{v:g}", pytest.approx(100 * v / 4.4)) for v in range(5)]
    assert [label for label, _ in figures.time_ticks(4.0, start=-4.0)] == ["-4", "-3", "-2", "-1", "0"]


def test_single_window_clip_has_a_one_column_timeline(demo, audio_files):
    a = demo.analyse(str(audio_files["short_speech"]))
    assert len(a.prediction.windows) == 1
    assert "one window" in a.timeline
    outputs = demo.classify(str(audio_files["short_speech"]))
    assert len(outputs) == 11
    assert all(isinstance(f, str) and f.startswith("<figure") for f in outputs[5:9])
    assert outputs[-1]["wave"].dtype == np.float32  # the session keeps the decoded clip


def test_gradio_numpy_audio_and_stereo(demo, long_clip):
    samples, rate = sf.read(long_clip, dtype="int16")
    stereo = np.stack([samples, samples], axis=1)
    from_file = demo.predict(str(long_clip))
    from_array = demo.predict((rate, stereo))
    assert from_array["labels"] == from_file["labels"]
    json.dumps(from_array)  # plain JSON for API clients
    assert from_array["model"]["untrained_placeholder"] is demo.facts.placeholder
    assert from_array["windows"][0]["start"] == 0.0
    assert from_array["gender"] == from_array["labels"]["gender"]  # Prediction.to_dict() keys at the top


def shows_message(demo, audio) -> str:
    """The page callback's summary for audio it cannot analyse; also checks the results are cleared."""
    summary, years, gender, age, joint, *pictures, picker, clip = demo.classify(audio)
    assert gender is None and age is None and joint is None and not years
    assert pictures == [None, None, None, None] and clip is None
    return summary.strip("*")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("silence", "silent"),
        ("too_short", f"at least {MIN_SPEECH_SECONDS} s"),
        ("too_long", "limit is 60 s"),
        ("corrupt", "could not decode"),
        ("empty", "empty"),
        ("not_audio", "could not decode"),
    ],
)
def test_bad_audio_gives_a_clear_message(demo, audio_files, name, expected):
    with pytest.raises(gr.Error) as info:  # API clients get an error with the message
        demo.predict(str(audio_files[name]))
    message = info.value.message
    assert message.startswith("Cannot analyse this audio:")
    assert expected in message.lower(), message
    assert "Traceback" not in message
    assert shows_message(demo, str(audio_files[name])) == message  # the page shows it and stays usable


def test_missing_file_and_no_audio(demo, tmp_path):
    with pytest.raises(gr.Error, match="No such file"):
        demo.predict(str(tmp_path / "gone.wav"))
    for nothing in (None, ""):
        with pytest.raises(gr.Error) as info:
            demo.predict(nothing)
        assert info.value.message == text.NO_AUDIO_MESSAGE
        assert shows_message(demo, nothing) == text.NO_AUDIO_MESSAGE


def test_unexpected_failure_is_logged_and_shown_generically(demo, long_clip, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(demo.clf, "classify_waveforms", boom)
    with pytest.raises(gr.Error) as info:
        demo.predict(str(long_clip))
    assert info.value.message == text.GENERIC_ERROR
    assert shows_message(demo, str(long_clip)) == text.GENERIC_ERROR
    assert "internal detail" in caplog.text  # logged for the operator, not shown to the visitor


def fake_prediction(probabilities: dict) -> Prediction:
    return Prediction(probabilities=probabilities, spectrogram=np.zeros((64, 10)), time_attention=None,
                      freq_attention=None, windows=[WindowResult(0, 1, probabilities)], duration=3.0)  # fmt: skip


def test_summary_says_when_confidence_is_low():
    sure = fake_prediction({"gender": {"female": 0.9, "male": 0.1},
                            "age": {"twenties": 0.7, "thirties": 0.2, "fourties": 0.1}})  # fmt: skip
    line = text.summary_sentence(sure)
    assert line.startswith("Most likely a **female** voice in the **twenties** age group")
    assert "gender 90%" in line and "low confidence" not in line and "years old" not in line
    unsure = fake_prediction({"gender": {"female": 0.55, "male": 0.45}, "age": {"twenties": 0.9, "thirties": 0.1}})
    line = text.summary_sentence(unsure, placeholder=True)
    assert line.startswith("Untrained placeholder") and "unsure" in line
    assert "gender 55% - low confidence" in line and "age group 90%)" in line
    assert labels.low_confidence_threshold(2) == pytest.approx(0.65)


def test_age_in_years_and_short_speech_are_shown_when_the_model_gives_them():
    pred = fake_prediction({"gender": {"female": 0.9, "male": 0.1}, "age": {"thirties": 0.8, "fifties": 0.2}})
    assert text.age_years_text(pred) == ""  # a model without an age-in-years head: nothing shown
    assert text.SHORT_SPEECH_NOTE not in text.summary_sentence(pred)
    pred.age_years, pred.age_years_range, pred.duration = 34.4, (25.2, 45.0), 0.6  # under 1 s of speech
    assert text.age_years_text(pred) == "about 34 (25-45)"
    line = text.summary_sentence(pred)
    assert "**about 34 (25-45)** years old" in line and text.SHORT_SPEECH_NOTE in line


def test_joint_only_model_gets_gender_and_age_marginals():
    pred = fake_prediction({"age_gender": {"female-teens": 0.5, "female-sixties": 0.2, "male-teens": 0.3}})
    probs = labels.task_probabilities(pred)
    assert probs["gender"] == pytest.approx({"female": 0.7, "male": 0.3})
    assert probs["age"] == pytest.approx({"teens": 0.8, "sixties": 0.2})


def test_model_card_metrics_are_shown_when_present(tmp_path):
    metrics = {"split": "test", "tasks": {"gender": {"accuracy": 0.912, "macro_f1": 0.9, "uar": 0.905,
                                                    "majority_accuracy": 0.6}}}  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "README.md").write_text("# Model\n\n## Limitations\n\nOnly adults reading aloud.\n\n## Other\nx\n")
    facts = card.model_facts(str(tmp_path))
    assert not facts.placeholder
    table = card.metrics_markdown(facts)
    assert "**test** split" in table and "91.2%" in table and "Majority accuracy" in table
    assert facts.limitations == "Only adults reading aloud."


def how_it_works(d: Demo) -> str:
    return text.how_it_works_markdown(d.facts, d.clf.config)


def test_placeholder_model_says_it_has_no_measured_accuracy():
    untrained = AgeGenderClassifier(ModelConfig(width=0.1)).eval()
    placeholder = Demo(untrained, facts=ModelFacts(source="untrained"))
    assert placeholder.facts.placeholder
    words = how_it_works(placeholder)
    assert "No measured accuracy" in words and "untrained placeholder" in words


def test_bundled_model_shows_its_measured_accuracy(demo):
    metrics = json.loads((ROOT / "checkpoints" / "metrics.json").read_text())
    assert not demo.facts.placeholder
    words = how_it_works(demo)
    assert "No measured accuracy" not in words and "**test** split" in words
    assert f"{metrics['tasks']['gender']['accuracy']:.1%}" in words
    assert "spectrogram" in words.lower() and "time branch" in words and "frequency branch" in words
    assert "What Grad-CAM shows" in words and "What the gates show" in words and "How the two differ" in words
    limits = text.limits_markdown(demo.max_seconds, 10)
    assert "60 s" in limits and "10 MB" in limits and "webm" in limits and "mp4" in limits


def test_ungated_paper_variant_has_no_attention_maps(audio_files):
    config = ModelConfig(variant="paper", width=0.1)
    clf = AgeGenderClassifier(config).eval()
    clf.source = "test"
    d = Demo(clf, facts=ModelFacts(source="test"))
    a = d.analyse(str(audio_files["five_seconds"]))
    assert a.overlay is None and a.timeline is not None
    assert "no explicit attention" in a.maps and "Grad-CAM" in a.gradcam  # Grad-CAM needs no gates
    assert d.classify(str(audio_files["five_seconds"]))[6] is None


def test_warm_up_spares_the_first_request_the_pyplot_import():
    """Gradio asks matplotlib for its backend around every call: after warm_up that must not import pyplot."""
    import os
    import subprocess
    import sys

    script = ("import sys, matplotlib; from demo.analysis import Demo; Demo.warm_up(object.__new__(Demo), None); "
              "matplotlib.get_backend(); print('matplotlib.pyplot' in sys.modules)")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_warm_up_request_failing_is_logged_not_raised(caplog, long_clip):
    """The start-up request through the server never stops the app from serving."""
    from demo.analysis import Demo

    Demo.warm_up_server("http://127.0.0.1:9/", long_clip)  # nothing listens there
    assert "warm-up request to http://127.0.0.1:9/ failed" in caplog.text
