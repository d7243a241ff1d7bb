"""One consistent answer per clip: labels, probabilities and age in years never contradict each other."""

import json

import numpy as np
import pytest

from agegender import ModelConfig
from agegender.answers import answer, group_mass
from agegender.config import AGE_GROUP_YEARS, AGE_GROUPS, GENDERS, joint_labels
from synth import voice

CONFIG = ModelConfig(age_years=True)


def random_heads(rng, sharp: float) -> dict:
    return {t: rng.dirichlet(np.full(len(names), sharp)) for t, names in CONFIG.labels.items()}


@pytest.mark.parametrize("sharp", [0.2, 1.0, 5.0])
def test_labels_never_contradict(sharp):
    rng = np.random.default_rng(0)
    for _ in range(2000):
        config = ModelConfig(age_years=True, gender_bias=float(rng.normal(0, 1)))
        log_years, log_scale = np.log(rng.uniform(6, 90)), rng.uniform(-3, 0.5)
        a = answer(random_heads(rng, sharp), config, log_years, log_scale)
        p = a.probabilities
        gender, age = max(p["gender"], key=p["gender"].get), max(p["age"], key=p["age"].get)
        assert max(p["age_gender"], key=p["age_gender"].get) == f"{gender}-{age}"
        for task in p:
            assert sum(p[task].values()) == pytest.approx(1.0, abs=1e-4)
        low, high = AGE_GROUP_YEARS[age]
        assert low <= a.age_years < high and round(a.age_years) < high  # the years name the same group
        assert a.age_years_range[0] <= a.age_years <= a.age_years_range[1]


def test_joint_head_alone_gives_the_same_kind_of_answer():
    config = ModelConfig(labels={"age_gender": joint_labels(GENDERS, AGE_GROUPS)})
    joint = np.full(12, 0.01)
    joint[joint_labels(GENDERS, AGE_GROUPS).index("female-fifties")] = 0.89
    a = answer({"age_gender": joint}, config)
    assert list(a.probabilities) == ["age_gender"]
    assert max(a.probabilities["age_gender"], key=a.probabilities["age_gender"].get) == "female-fifties"
    assert a.age_years is None


def test_gender_bias_moves_the_decision_towards_female():
    heads = {"gender": np.array([0.4, 0.6])}
    config = ModelConfig(labels={"gender": GENDERS})
    assert answer(heads, config).probabilities["gender"]["male"] == pytest.approx(0.6)
    config.gender_bias = 1.0
    assert answer(heads, config).probabilities["gender"]["female"] > 0.6


def test_age_head_mass_per_group_sums_to_one_and_peaks_at_the_estimate():
    mass = group_mass(np.log(45.0), 0.1, AGE_GROUPS)
    assert mass.sum() == pytest.approx(1.0) and AGE_GROUPS[mass.argmax()] == "fourties"


def test_prediction_carries_age_in_years_and_low_confidence(tiny_model):
    p = tiny_model.predict(voice(3.0), sample_rate=16000)
    assert isinstance(p.age_years, float) and p.age_years_range[0] <= p.age_years <= p.age_years_range[1]
    assert not p.low_confidence
    record = json.loads(json.dumps(p.to_dict()))
    assert record["age_years"] == p.age_years and record["age_years_range"] == list(p.age_years_range)
    assert record["age_gender"] == f"{record['gender']}-{record['age']}"
    short = tiny_model.predict(np.concatenate([np.zeros(8000), voice(0.6), np.zeros(8000)]), sample_rate=16000)
    assert short.duration < 1.0 and short.low_confidence and short.to_dict()["low_confidence"] is True


def test_every_window_is_consistent_too(tiny_model):
    for w in tiny_model.predict(voice(6.0), sample_rate=16000).windows:
        g, a = w.labels["gender"], w.labels["age"]
        assert w.labels["age_gender"] == f"{g}-{a}"
