import json

import numpy as np
import pytest
import safetensors.torch
import torch

from agegender import AgeGenderClassifier, AudioError, ModelConfig, UnreadableAudioError
from agegender.answers import decide_heads
from agegender.classifier import BUNDLED_MODEL
from agegender.features import split_windows
from synth import voice


def test_round_trip_gives_identical_outputs(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path / "copy")
    again = AgeGenderClassifier.from_pretrained(tmp_path / "copy")
    x = torch.randn(2, 64, 256)
    a, b = tiny_model(x), again(x)
    for task in a.logits:
        torch.testing.assert_close(a.logits[task], b.logits[task], rtol=0, atol=0)
    torch.testing.assert_close(a.time_attention, b.time_attention, rtol=0, atol=0)
    assert again.config == tiny_model.config


def test_config_json_holds_the_input_settings(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    for key in ("sample_rate", "win_length", "hop_length", "n_fft", "n_mels", "window_frames", "labels",
                "variant", "width"):  # fmt: skip
        assert key in config


def test_missing_weight_is_an_error(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    state = safetensors.torch.load_file(tmp_path / "model.safetensors")
    state.pop("heads.gender.weight")
    safetensors.torch.save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="heads.gender.weight"):
        AgeGenderClassifier.from_pretrained(tmp_path)


def test_unexpected_weight_is_an_error(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    state = safetensors.torch.load_file(tmp_path / "model.safetensors")
    state["heads.extra.weight"] = torch.zeros(3, 10)
    safetensors.torch.save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="heads.extra.weight"):
        AgeGenderClassifier.from_pretrained(tmp_path)


def test_mismatched_config_is_an_error(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["width"] = 0.25
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match="size mismatch"):
        AgeGenderClassifier.from_pretrained(tmp_path)


def test_directory_without_weights_is_an_error(tmp_path, tiny_model_dir):
    (tmp_path / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        AgeGenderClassifier.from_pretrained(tmp_path)


def test_bundled_model_loads_by_default(monkeypatch):
    monkeypatch.delenv("AGEGENDER_MODEL", raising=False)
    model = AgeGenderClassifier.from_pretrained()
    assert model.source == str(BUNDLED_MODEL)
    assert set(model.config.tasks) == {"gender", "age", "age_gender"}


def test_environment_variable_picks_the_model(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("AGEGENDER_MODEL", str(tiny_model_dir))
    model = AgeGenderClassifier.from_pretrained()
    assert model.source == str(tiny_model_dir) and model.config.width == 0.125


def test_predict_file(tiny_model, make_wav):
    p = tiny_model.predict(make_wav(seconds=2.0, rate=44100))
    assert set(p.probabilities) == {"gender", "age", "age_gender"}
    for task, probs in p.probabilities.items():
        assert list(probs) == tiny_model.config.labels[task]
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert p.gender in ("female", "male") and p.age_gender.startswith(p.age_gender.split("-")[0])
    n_mels, frames = p.spectrogram.shape
    assert n_mels == 64 and abs(frames - p.duration * 100) <= 2
    assert p.time_attention.shape == (frames,) and p.freq_attention.shape == (n_mels,)
    assert len(p.windows) == 1


def test_long_audio_is_analysed_in_overlapping_windows(tiny_model):
    p = tiny_model.predict(voice(10.0), sample_rate=16000)
    frames = p.spectrogram.shape[1]
    assert len(p.windows) == 7  # 2.56 s windows every 1.28 s, the last one aligned to the end
    assert p.windows[0].start == 0 and p.windows[-1].end == pytest.approx(frames / 100)
    assert p.time_attention.shape == (frames,)
    with torch.no_grad():  # the clip's answer rests on every window's head output, averaged
        spec = tiny_model.features(torch.from_numpy(tiny_model.load(voice(10.0), 16000))[None])[0]
        windows, _ = split_windows(spec, 256, 128)
        mean = tiny_model(windows).logits["age"].softmax(-1).mean(0).numpy()
    np.testing.assert_allclose(p.heads["age"], mean, atol=1e-5)
    assert p.probabilities == decide_heads(p.heads, tiny_model.config).probabilities


def test_predict_batch_matches_predict(tiny_model, make_wav):
    paths = [make_wav("a.wav", 2.0), make_wav("b.wav", 4.0, rate=8000)]
    batch = tiny_model.predict_batch(paths, batch_size=2)
    for path, p in zip(paths, batch):
        single = tiny_model.predict(path)
        for task in p.probabilities:
            for label, value in p.probabilities[task].items():
                assert value == pytest.approx(single.probabilities[task][label], abs=1e-4)


def test_predict_batch_names_the_bad_file(tmp_path, tiny_model, make_wav):
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    with pytest.raises(UnreadableAudioError, match=f"^{bad}: the file is empty$"):
        tiny_model.predict_batch([make_wav(), bad])


def test_predict_batch_can_return_errors_in_place(tmp_path, tiny_model, make_wav):
    good = make_wav()
    results = tiny_model.predict_batch([good, tmp_path / "nothing.wav", np.zeros(16000), good], sample_rate=None,
                                       errors="return")  # fmt: skip
    assert isinstance(results[1], UnreadableAudioError) and str(results[1]).endswith("no such file")
    assert isinstance(results[2], AudioError) and str(results[2]).startswith("item 2: ")
    assert results[0].probabilities == results[3].probabilities


def test_predict_batch_of_nothing(tiny_model):
    assert tiny_model.predict_batch([]) == []


def test_bad_input_raises_audio_error(tiny_model):
    with pytest.raises(AudioError):
        tiny_model.predict(np.zeros(16000, dtype=np.float32), sample_rate=16000)


def test_paper_variant_predicts_without_maps(tmp_path):
    model = AgeGenderClassifier(ModelConfig(width=0.125, variant="paper"))
    p = model.predict(voice(3.0), sample_rate=16000)
    assert p.time_attention is None and p.freq_attention is None and p.gender in ("female", "male")


def test_model_for_a_subset_of_tasks(tmp_path):
    AgeGenderClassifier(ModelConfig(width=0.125, labels={"age": ["young", "old"]})).save_pretrained(tmp_path)
    p = AgeGenderClassifier.from_pretrained(tmp_path).predict(voice(3.0), sample_rate=16000)
    assert set(p.probabilities) == {"age"} and p.gender is None and p.age in ("young", "old")


def test_directory_without_config_is_an_error(tmp_path, tiny_model_dir):
    (tmp_path / "model.safetensors").write_bytes((tiny_model_dir / "model.safetensors").read_bytes())
    with pytest.raises(FileNotFoundError, match="config.json"):
        AgeGenderClassifier.from_pretrained(tmp_path)


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model directory"):
        AgeGenderClassifier.from_pretrained(tmp_path / "nope")
