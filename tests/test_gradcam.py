"""Grad-CAM comes from the forward pass that makes the prediction, and depends on the label asked about."""

import numpy as np
import pytest

from agegender import AgeGenderClassifier
from agegender.gradcam import class_score, classify_and_explain
from synth import voice


@pytest.fixture(scope="module")
def bundled():
    return AgeGenderClassifier.from_pretrained()


@pytest.fixture(scope="module")
def wave(bundled):
    return bundled.load(voice(5.0, 16000, name="fr_female"), 16000)  # 5 s: three overlapping windows


def test_one_forward_pass_gives_the_prediction_and_the_map(bundled, wave):
    calls = []
    hook = bundled.net.flb2.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    try:
        pred, cam, target = classify_and_explain(bundled, wave, ("gender", "female"))
    finally:
        hook.remove()
    assert calls == [3]  # the three windows went through the network once, for both
    assert target == ("gender", "female")
    assert pred.probabilities == bundled.classify_waveforms([wave])[0].probabilities
    assert cam.shape == pred.spectrogram.shape and cam.min() >= 0 and cam.max() == pytest.approx(1.0)


def test_the_map_changes_with_the_label(bundled, wave):
    _, female, _ = classify_and_explain(bundled, wave, ("gender", "female"))
    _, male, _ = classify_and_explain(bundled, wave, ("gender", "male"))
    _, twenties, _ = classify_and_explain(bundled, wave, ("age", "twenties"))
    assert female is not None and male is not None and twenties is not None
    assert np.abs(female - male).mean() > 0.05 and np.abs(female - twenties).mean() > 0.05
    # the same label twice gives the same map
    _, again, _ = classify_and_explain(bundled, wave, ("gender", "female"))
    assert np.allclose(again, female, atol=1e-5)


def test_target_can_be_chosen_from_the_prediction(bundled, wave):
    pred, _, target = classify_and_explain(bundled, wave, lambda p: ("age", p.age))
    assert target == ("age", pred.age)


def test_gender_score_from_a_joint_only_head():
    import torch

    labels = {"age_gender": ["female-teens", "female-sixties", "male-teens", "male-sixties"]}
    logits = {"age_gender": torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))}
    assert float(class_score(logits, "gender", "female", labels).exp()) == pytest.approx(0.3)
    assert float(class_score(logits, "age", "teens", labels).exp()) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no label"):
        class_score(logits, "gender", "other", labels)
