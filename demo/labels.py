"""Class probabilities per task as the page shows them, and when to call them unsure."""

from agegender import Prediction

TASKS = ("gender", "age", "age_gender")
TASK_TITLES = {"gender": "Gender", "age": "Age group", "age_gender": "Age and gender"}


def task_probabilities(pred: Prediction) -> dict[str, dict[str, float]]:
    """Probabilities per task; gender and age are summed from the joint task when the model lacks them."""
    probs = {t: dict(p) for t, p in pred.probabilities.items()}
    joint = probs.get("age_gender")
    if joint and all(label.count("-") == 1 for label in joint):
        for task, part in (("gender", 0), ("age", 1)):
            if task not in probs:
                marginal: dict[str, float] = {}
                for label, p in joint.items():
                    key = label.split("-")[part]
                    marginal[key] = marginal.get(key, 0.0) + p
                probs[task] = marginal
    return probs


def label_values(pred: Prediction) -> dict[str, dict[str, float] | None]:
    """For each of gender, age and age_gender: the `gr.Label` value, or None if the model has no such task."""
    probs = task_probabilities(pred)
    return {task: probs.get(task) for task in TASKS}


def low_confidence_threshold(n_classes: int) -> float:
    """Top probability below this is called low confidence: 30% of the way from chance to certainty.

    0.65 for two genders, about 0.42 for six age groups, about 0.36 for twelve joint classes.
    """
    chance = 1.0 / max(n_classes, 1)
    return chance + 0.3 * (1.0 - chance)


def is_low_confidence(probabilities: dict[str, float]) -> bool:
    return max(probabilities.values()) < low_confidence_threshold(len(probabilities))


def top(probabilities: dict[str, float]) -> tuple[str, float]:
    label = max(probabilities, key=probabilities.get)
    return label, probabilities[label]
