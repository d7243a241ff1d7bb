"""The functions behind the page, called directly: results, figures and the message for each bad input."""

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
from matplotlib.figure import Figure

from agegender import AgeGenderClassifier, ModelConfig, Prediction, WindowResult
from agegender import demo as logic
from agegender import plots
from agegender.demo import Demo, ModelFacts

ROOT = Path(__file__).resolve().parents[2]

# Outside a running page, gr.Warning (the toast for bad audio) is a Python UserWarning.
pytestmark = pytest.mark.filterwarnings("ignore:.*:UserWarning:gradio.helpers")


def axis_labels(fig: Figure) -> set[str]:
    return {ax.get_xlabel() for ax in fig.axes} | {ax.get_ylabel() for ax in fig.axes}


def test_analyse_gives_labels_summary_and_figures(demo, long_clip):
    a = demo.analyse(str(long_clip))
    for task in ("gender", "age", "age_gender"):
        probs = a.labels[task]
        assert probs and abs(sum(probs.values()) - 1) < 1e-3
    assert a.labels["gender"].keys() == {"female", "male"}
    assert ("placeholder" in a.summary) == demo.facts.placeholder and "%" in a.summary
    labels = axis_labels(a.spectrogram)
    assert {"Time (s)", "Frequency (Hz)", "Power (dB)"} <= labels  # seconds, Hz and a colour bar
    assert any("attention" in label for label in labels)
    assert "Attention (time x frequency)" in axis_labels(a.overlay)
    assert a.timeline is not None and "Probability" in axis_labels(a.timeline)
    assert set(a.timings) == {"load", "predict", "plot"}
    png = plots.render_png(a.spectrogram)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_figures_use_the_prediction_that_made_the_labels(demo, long_clip):
    a = demo.analyse(str(long_clip))
    pred = a.prediction
    frames = pred.spectrogram.shape[1]
    seconds = frames * demo.clf.config.hop_length / demo.clf.config.sample_rate
    image = a.spectrogram.axes[0].images[0]
    assert np.array_equal(image.get_array(), pred.spectrogram)
    assert image.get_extent()[1] == pytest.approx(seconds)
    assert pred.time_attention.shape == (frames,)
    assert np.allclose(plots.attention_overlay(pred), np.outer(pred.freq_attention, pred.time_attention))


def test_single_window_clip_has_a_one_column_timeline(demo, audio_files):
    a = demo.analyse(str(audio_files["short_speech"]))
    assert len(a.prediction.windows) == 1
    assert "one window" in a.timeline.axes[0].get_title()
    outputs = demo.classify(str(audio_files["short_speech"]))
    assert len(outputs) == 7
    assert all(isinstance(f, Figure) for f in outputs[4:])  # plain values, so examples can be cached


def test_gradio_numpy_audio_and_stereo(demo, long_clip):
    samples, rate = sf.read(long_clip, dtype="int16")
    stereo = np.stack([samples, samples], axis=1)
    from_file = demo.predict(str(long_clip))
    from_array = demo.predict((rate, stereo))
    assert from_array["labels"] == from_file["labels"]
    json.dumps(from_array)  # plain JSON for API clients
    assert from_array["model"]["untrained_placeholder"] is demo.facts.placeholder
    assert from_array["windows"][0]["start"] == 0.0


def test_no_pyplot_figures_left_open(demo, long_clip):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    for _ in range(3):
        demo.classify(str(long_clip))
    assert len(plt.get_fignums()) == before


def shows_message(demo, audio) -> str:
    """The page callback's summary for audio it cannot analyse; also checks the results are cleared."""
    summary, gender, age, joint, *figures = demo.classify(audio)
    assert gender is None and age is None and joint is None
    assert figures == [None, None, None]
    return summary.strip("*")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("silence", "silent"),
        ("too_short", "at least 0.5 s"),
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
        assert info.value.message == logic.NO_AUDIO_MESSAGE
        assert shows_message(demo, nothing) == logic.NO_AUDIO_MESSAGE


def test_unexpected_failure_is_logged_and_shown_generically(demo, long_clip, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(demo.clf, "classify_waveforms", boom)
    with pytest.raises(gr.Error) as info:
        demo.predict(str(long_clip))
    assert info.value.message == logic.GENERIC_ERROR
    assert shows_message(demo, str(long_clip)) == logic.GENERIC_ERROR
    assert "internal detail" in caplog.text  # logged for the operator, not shown to the visitor


def fake_prediction(probabilities: dict) -> Prediction:
    return Prediction(probabilities=probabilities, spectrogram=np.zeros((64, 10)), time_attention=None,
                      freq_attention=None, windows=[WindowResult(0, 1, probabilities)])  # fmt: skip


def test_summary_says_when_confidence_is_low():
    sure = fake_prediction({"gender": {"female": 0.9, "male": 0.1},
                            "age": {"twenties": 0.7, "thirties": 0.2, "fourties": 0.1}})  # fmt: skip
    text = logic.summary_sentence(sure)
    assert text.startswith("Most likely a **female** voice in the **twenties** age group")
    assert "gender 90%" in text and "low confidence" not in text
    unsure = fake_prediction({"gender": {"female": 0.55, "male": 0.45}, "age": {"twenties": 0.9, "thirties": 0.1}})
    text = logic.summary_sentence(unsure, placeholder=True)
    assert text.startswith("Untrained placeholder") and "unsure" in text
    assert "gender 55% - low confidence" in text and "age group 90%)" in text
    assert logic.low_confidence_threshold(2) == pytest.approx(0.65)


def test_joint_only_model_gets_gender_and_age_marginals():
    pred = fake_prediction({"age_gender": {"female-teens": 0.5, "female-sixties": 0.2, "male-teens": 0.3}})
    probs = logic.task_probabilities(pred)
    assert probs["gender"] == pytest.approx({"female": 0.7, "male": 0.3})
    assert probs["age"] == pytest.approx({"teens": 0.8, "sixties": 0.2})


def test_model_card_metrics_are_shown_when_present(tmp_path):
    metrics = {"split": "test", "tasks": {"gender": {"accuracy": 0.912, "macro_f1": 0.9, "uar": 0.905,
                                                    "majority_accuracy": 0.6}}}  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "README.md").write_text("# Model\n\n## Limitations\n\nOnly adults reading aloud.\n\n## Other\nx\n")
    facts = logic.model_facts(str(tmp_path))
    assert not facts.placeholder
    table = logic.metrics_markdown(facts)
    assert "**test** split" in table and "91.2%" in table and "Majority accuracy" in table
    assert facts.limitations == "Only adults reading aloud."


def test_placeholder_model_says_it_has_no_measured_accuracy():
    untrained = AgeGenderClassifier(ModelConfig(width=0.1)).eval()
    placeholder = Demo(untrained, facts=ModelFacts(source="untrained"))
    assert placeholder.facts.placeholder
    text = placeholder.how_it_works_markdown()
    assert "No measured accuracy" in text and "untrained placeholder" in text


def test_bundled_model_shows_its_measured_accuracy(demo):
    metrics = json.loads((ROOT / "checkpoints" / "metrics.json").read_text())
    assert not demo.facts.placeholder
    text = demo.how_it_works_markdown()
    assert "No measured accuracy" not in text and "**test** split" in text
    assert f"{metrics['tasks']['gender']['accuracy']:.1%}" in text
    assert "spectrogram" in text.lower() and "time branch" in text and "frequency branch" in text
    assert "60 s" in demo.limits_markdown() and "10 MB" in demo.limits_markdown()


def test_ungated_paper_variant_has_no_attention_maps(audio_files):
    config = ModelConfig(variant="paper", width=0.1)
    clf = AgeGenderClassifier(config).eval()
    clf.source = "test"
    d = Demo(clf, facts=ModelFacts(source="test"))
    a = d.analyse(str(audio_files["five_seconds"]))
    assert a.overlay is None and a.timeline is not None
    assert "no explicit attention" in a.spectrogram.axes[0].get_title()
    assert d.classify(str(audio_files["five_seconds"]))[5] is None
