"""ONNX export: onnxruntime gives torch's probabilities and attention maps, for any batch size."""

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from agegender import AgeGenderClassifier, ModelConfig
from agegender.cli import main
from agegender.export import WaveformModel, export_onnx, named_outputs
from agegender.features import split_windows, window_samples
from synth import voice

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'agegender[export]')")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install 'agegender[export]')")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    assert main(["export", "--onnx", str(path), "--model", str(tiny_model_dir)]) == 0
    return path


def windows(n: int, size: int) -> np.ndarray:
    names = ["en_male", "fr_female", "de_male"]
    return np.stack([voice(size / 16000 + 0.01, seed=i, name=names[i % 3])[:size] for i in range(n)])


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_matches_torch(exported, tiny_model, batch):
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    x = windows(batch, window_samples(tiny_model.config))
    with torch.no_grad():
        expected = WaveformModel(tiny_model).named(torch.from_numpy(x))
    names = [o.name for o in session.get_outputs()]
    assert names == list(expected)
    assert {"gender", "age", "age_gender", "time_attention", "freq_attention", "age_years"} <= set(names)
    for name, got in zip(names, session.run(None, {"waveform": x})):
        assert got.shape == tuple(expected[name].shape) and got.shape[0] == batch
        np.testing.assert_allclose(got, expected[name].numpy(), rtol=0, atol=1e-4, err_msg=name)


def test_onnx_window_is_the_classifiers_window(exported, tiny_model):
    """Audio one window long: the graph sees the window the classifier cuts from the clip's spectrogram."""
    cfg = tiny_model.config
    x = windows(1, window_samples(cfg))
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"waveform": x})))
    with torch.no_grad():
        spec = tiny_model.features(torch.from_numpy(x))[0]
        cut, starts = split_windows(spec, cfg.window_frames, cfg.window_hop_frames)
        expected = named_outputs(tiny_model(cut), cfg.tasks)
    assert starts == [0] and set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value.numpy(), rtol=0, atol=1e-4, err_msg=name)
    p = tiny_model.classify_waveforms([x[0]])[0]  # the maps the library reports for this clip
    np.testing.assert_allclose(got["time_attention"][0], p.time_attention, rtol=0, atol=1e-4)
    np.testing.assert_allclose(got["freq_attention"][0], p.freq_attention, rtol=0, atol=1e-4)


def test_metadata_holds_the_config(exported, tiny_model):
    meta = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert json.loads(meta["config"]) == asdict(tiny_model.config)
    assert int(meta["window_samples"]) == window_samples(tiny_model.config)
    assert int(meta["sample_rate"]) == tiny_model.config.sample_rate


def test_exports_the_heads_and_outputs_the_model_has(tmp_path):
    model = AgeGenderClassifier(ModelConfig(width=0.125, variant="paper", labels={"age": ["young", "old"]})).eval()
    names = export_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert names == [o.name for o in session.get_outputs()] == ["age"]
    (probs,) = session.run(None, {"waveform": windows(2, window_samples(model.config))})
    assert probs.shape == (2, 2)


def test_readme_recipe_runs_without_torch(exported, tmp_path, make_wav, tiny_model):
    """The README's "without torch" code runs where importing torch fails and names a class per task."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### Running the ONNX model without torch") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", section.index("```python\n") + 10)]
    clip = make_wav("clip.wav", seconds=4.0)
    (tmp_path / "model.onnx").symlink_to(exported)
    blocked = "import sys; sys.modules['torch'] = None; sys.modules['agegender'] = None\n"
    proc = subprocess.run([sys.executable, "-c", blocked + code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    answers = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()}
    assert clip.parent == tmp_path and set(answers) == set(tiny_model.config.tasks)
    assert all(answers[task] in tiny_model.config.labels[task] for task in answers)
