"""Classification metrics without scikit-learn: accuracy, macro-F1, UAR, per-class scores, confusion.

Macro averages (F1 and UAR = balanced accuracy = mean recall) run over the classes present in the
reference labels, so a class missing from a split does not count as a zero. Intervals come from drawing
the speakers again with replacement (`speaker_draws`), since clips of one speaker are not independent.
"""

from collections import Counter

import numpy as np


def confusion(y_true, y_pred, n: int) -> np.ndarray:
    """(n, n) counts: rows are the true class, columns the predicted one."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def uar_of(m: np.ndarray) -> float:
    """Unweighted average recall of a confusion matrix, over the classes present (0 when none is)."""
    support = m.sum(1)
    present = support > 0
    return float((np.diag(m)[present] / support[present]).mean()) if present.any() else 0.0


def scores(y_true, y_pred, labels: list[str]) -> dict:
    """Accuracy, macro-F1, UAR, per-class precision/recall/F1/support and the confusion matrix."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    m = confusion(y_true, y_pred, len(labels))
    tp = np.diag(m).astype(float)
    support, predicted = m.sum(1).astype(float), m.sum(0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    present = support > 0
    return {
        "n": int(len(y_true)),
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "uar": uar_of(m),
        "per_class": {
            name: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s)}
            for name, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion": m.tolist(),
        "labels": list(labels),
        "absent_classes": [name for name, s in zip(labels, support) if s == 0],
    }


def speaker_draws(statistic, speakers, n: int = 1000, seed: int = 0) -> np.ndarray:
    """`statistic(clip indices)` on `n` draws of the speakers with replacement (all their clips together):
    how far a figure could move on another draw of as many speakers."""
    _, speaker = np.unique(np.asarray(speakers), return_inverse=True)
    clips = [np.flatnonzero(speaker == s) for s in range(speaker.max() + 1)]
    rng = np.random.default_rng(seed)
    return np.array([statistic(np.concatenate([clips[s] for s in rng.integers(len(clips), size=len(clips))]))
                     for _ in range(n)])  # fmt: skip


def percentile_interval(draws, level: float = 0.95) -> list[float]:
    """The central `level` interval of bootstrap draws."""
    tail = (1 - level) / 2 * 100
    return [round(float(v), 4) for v in np.percentile(draws, [tail, 100 - tail])]


def uar_interval(y_true, y_pred, speakers, n: int = 1000, level: float = 0.95, seed: int = 0) -> list[float]:
    """A `level` interval for the UAR over draws of the speakers (`speaker_draws`)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if not len(y_true):
        return [float("nan"), float("nan")]
    k = max(int(y_true.max()), int(y_pred.max())) + 1
    draws = speaker_draws(lambda idx: uar_of(confusion(y_true[idx], y_pred[idx], k)), speakers, n, seed)
    return percentile_interval(draws, level)


def majority(y_train, y_true, labels: list[str]) -> dict:
    """The baseline that always answers the most frequent training class."""
    top = Counter(np.asarray(y_train).tolist()).most_common(1)[0][0]
    s = scores(y_true, np.full(len(y_true), top), labels)
    return {"majority_class": labels[top], "majority_accuracy": s["accuracy"], "majority_macro_f1": s["macro_f1"],
            "majority_uar": s["uar"]}  # fmt: skip


def confusion_text(m, labels: list[str]) -> str:
    """The confusion matrix as an aligned text table (rows true, columns predicted)."""
    m = np.asarray(m)
    w = max(max(len(s) for s in labels), max(len(str(v)) for v in m.flatten())) + 1
    head = " " * w + "".join(f"{s[:w - 1]:>{w}}" for s in labels)
    rows = [f"{s:>{w}}" + "".join(f"{v:>{w}}" for v in row) for s, row in zip(labels, m)]
    return "\n".join([head + "   <- predicted", *rows])
