"""One consistent answer per clip: gender, age group, joint class and age in years from one distribution.

The network has separate heads (gender, age group, joint age-gender, age in years). Read one by one they
can disagree, so they are first combined into a single distribution over (gender, age group): the
product of every head's probabilities (the age-in-years head adds the probability it gives to each
group's span of years), with the gender bias chosen on validation added to the female log-odds
(`config.gender_bias`, plus `config.gender_bias_by_age` for the groups it names). Then:

- gender = the most likely gender of that distribution, age group = the most likely group;
- the joint class is the two together, with probability P(gender) x P(age group);
- the age in years is the age head's median moved into the chosen group's years (it is only moved when
  the group and the age head disagree), with the 80% range of the age head around it.
"""

import math
from dataclasses import dataclass

import numpy as np

from .config import AGE_GROUP_YEARS, ModelConfig, joint_labels

RANGE_MASS = 0.8  # share of the age head's distribution that the reported range covers


@dataclass
class Answer:
    probabilities: dict[str, dict[str, float]]  # task -> label -> probability, consistent across tasks
    age_years: float | None = None
    age_years_range: tuple[float, float] | None = None


def _laplace_cdf(x: np.ndarray, mu: float, scale: float) -> np.ndarray:
    z = (x - mu) / scale
    return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))


def group_mass(log_years: float, scale: float, ages: list[str]) -> np.ndarray:
    """Probability the age head gives to each group's span of years."""
    low = np.log([AGE_GROUP_YEARS[a][0] for a in ages])
    high = np.log([AGE_GROUP_YEARS[a][1] for a in ages])
    low[0], high[-1] = -np.inf, np.inf  # the youngest and oldest groups are open-ended
    return _laplace_cdf(high, log_years, scale) - _laplace_cdf(low, log_years, scale)


def _axes(labels: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    genders = list(labels.get("gender", []))
    ages = list(labels.get("age", []))
    for name in labels.get("age_gender", []):
        g, a = name.split("-", 1)
        genders += [g] if g not in genders else []
        ages += [a] if a not in ages else []
    return genders, ages


def _normalise(log_p: np.ndarray) -> np.ndarray:
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def joint_log_probs(
    probs: dict[str, np.ndarray], config: ModelConfig, log_years: float | None = None, log_scale: float | None = None
) -> tuple[list[str], list[str], np.ndarray]:
    """The genders, the age groups and the unnormalised log P(gender, age group) that every head agrees on,
    before the gender bias."""
    labels = config.labels
    genders, ages = _axes(labels)
    eps = 1e-9
    log_joint = np.zeros((max(len(genders), 1), max(len(ages), 1)))
    if "gender" in probs:
        log_joint += np.log(np.asarray(probs["gender"]) + eps)[:, None]
    if "age" in probs:
        log_joint += np.log(np.asarray(probs["age"]) + eps)[None, :]
    if "age_gender" in probs:
        order = [labels["age_gender"].index(name) for name in joint_labels(genders, ages)]
        log_joint += np.log(np.asarray(probs["age_gender"])[order] + eps).reshape(len(genders), len(ages))
    if log_years is not None and ages:
        log_joint += np.log(group_mass(log_years, math.exp(log_scale), ages) + eps)[None, :]
    return genders, ages, log_joint


def gender_bias(config: ModelConfig, genders: list[str], ages: list[str]) -> np.ndarray:
    """The log-odds added to each (gender, age group) cell: `gender_bias` on the female row, plus
    `gender_bias_by_age` for the groups it names (children's voices need their own)."""
    bias = np.zeros((max(len(genders), 1), max(len(ages), 1)))
    if "female" in genders:
        row = genders.index("female")
        bias[row] += config.gender_bias
        for age, extra in config.gender_bias_by_age.items():
            if age in ages:
                bias[row, ages.index(age)] += extra
    return bias


def answer(
    probs: dict[str, np.ndarray], config: ModelConfig, log_years: float | None = None, log_scale: float | None = None
) -> Answer:
    """Combine head probabilities (task -> array in `config.labels` order) and the age head into one answer."""
    labels = config.labels
    genders, ages, log_joint = joint_log_probs(probs, config, log_years, log_scale)
    log_joint = log_joint + gender_bias(config, genders, ages)
    scale = math.exp(log_scale) if log_scale is not None else None
    joint = _normalise(log_joint.ravel()).reshape(log_joint.shape)
    p_gender, p_age = joint.sum(1), joint.sum(0)

    out = {}
    if genders:
        out["gender"] = dict(zip(genders, p_gender))
    if ages:
        out["age"] = dict(zip(ages, p_age))
    if genders and ages:
        out["age_gender"] = dict(zip(joint_labels(genders, ages), np.outer(p_gender, p_age).ravel()))
    out = {t: {k: round(float(v), 6) for k, v in out[t].items()} for t in labels if t in out}

    years = years_range = None
    if log_years is not None:
        years = math.exp(log_years)
        if ages:
            low, high = AGE_GROUP_YEARS[ages[int(p_age.argmax())]]
            years = min(max(years, low), high - 0.6)  # stays in the group when rounded to whole years
        half = scale * math.log(1 / (1 - RANGE_MASS))
        years_range = (min(math.exp(log_years - half), years), max(math.exp(log_years + half), years))
        years, years_range = round(years, 1), (round(years_range[0], 1), round(years_range[1], 1))
    return Answer(out, years, years_range)


def decide_heads(heads: dict, config: ModelConfig) -> Answer:
    """`answer` for a `Prediction.heads` dict (task probabilities, and `log_years`/`log_scale` if present)."""
    probs = {t: heads[t] for t in config.labels if t in heads}
    return answer(probs, config, heads.get("log_years"), heads.get("log_scale"))
