"""Is one model better than another on the same clips, or only luckier in the speakers drawn?

    python -m training.compare runs/new checkpoints --data data/cache/cv data/cache/saa data/cache/so762

Both models answer every clip of one split (validation by default) as the library does, each with its own
calibrated biases, and are scored the way training keeps epochs and the bundled model is chosen: the mean
over tasks of the macro-F1, all corpora pooled. Then the speakers are drawn again with replacement (all
their clips together) and both models scored on every draw: the spread of each score, and of their paired
difference, is what another draw of as many speakers could give. A difference whose 95% interval holds
zero is no evidence that either model is better.
"""

import argparse
import json

import numpy as np
import torch

from agegender.classifier import AgeGenderClassifier

from .data import Corpora, speaker_of, target_matrix
from .evaluate import predict_items
from .metrics import percentile_interval, scores, speaker_draws


def answered_classes(model: AgeGenderClassifier, cache: Corpora, items: list[dict]) -> np.ndarray:
    """(clips, tasks): the class each clip is answered with, as an index into `model.config.labels`."""
    labels = model.config.labels
    return np.array([[int(np.argmax([p.probabilities[t][name] for name in names])) for t, names in labels.items()]
                     for p in predict_items(model, cache, items)])  # fmt: skip


def pooled_score(y: np.ndarray, said: np.ndarray, labels: dict[str, list[str]], idx: np.ndarray) -> float:
    """Mean over tasks of the macro-F1 on the clips `idx` (repeats count again) that have the task's label."""
    f1 = []
    for j, names in enumerate(labels.values()):
        ok = idx[y[idx, j] >= 0]
        f1.append(scores(y[ok, j], said[ok, j], names)["macro_f1"])
    return float(np.mean(f1))


def compare(a: AgeGenderClassifier, b: AgeGenderClassifier, cache: Corpora, split: str = "val", draws: int = 1000,
            seed: int = 0) -> dict:  # fmt: skip
    """Both models' pooled scores on `split` and their paired difference (a - b), each with its 95% interval
    over `draws` draws of the speakers, and the share of draws in which `a` scores higher."""
    labels = a.config.labels
    if b.config.labels != labels:
        raise ValueError("the two models answer different tasks or classes, so their scores do not compare")
    items = cache.split(split)
    if not items:
        raise ValueError(f"the {split} split is empty")
    y = target_matrix(items, labels)
    said = [answered_classes(m, cache, items) for m in (a, b)]
    speakers = [speaker_of(it) for it in items]
    every = np.arange(len(items))
    score_a, score_b = (pooled_score(y, s, labels, every) for s in said)
    drawn = speaker_draws(lambda idx: [pooled_score(y, s, labels, idx) for s in said], speakers, draws, seed)
    diff = drawn[:, 0] - drawn[:, 1]
    return {
        "split": split, "clips": len(items), "speakers": len(set(speakers)), "draws": draws,
        "a": {"model": getattr(a, "source", "a"), "score": round(score_a, 4), "ci95": percentile_interval(drawn[:, 0])},
        "b": {"model": getattr(b, "source", "b"), "score": round(score_b, 4), "ci95": percentile_interval(drawn[:, 1])},
        "difference": round(score_a - score_b, 4), "difference_ci95": percentile_interval(diff),
        "a_ahead": round(float(np.mean(diff > 0)), 4),
    }  # fmt: skip


def report(r: dict) -> str:
    a, b = r["a"], r["b"]
    width = max(len(a["model"]), len(b["model"]), len("difference"))
    lo, hi = r["difference_ci95"]
    return "\n".join([
        f"{r['split']} split: {r['clips']} clips of {r['speakers']} speakers; {r['draws']} draws of the speakers",
        f"{a['model']:<{width}}  pooled score {a['score']:.4f}  (95%: {a['ci95'][0]:.4f}-{a['ci95'][1]:.4f})",
        f"{b['model']:<{width}}  pooled score {b['score']:.4f}  (95%: {b['ci95'][0]:.4f}-{b['ci95'][1]:.4f})",
        f"{'difference':<{width}}  {r['difference']:+.4f}  (95%: {lo:+.4f} to {hi:+.4f}); "
        f"{a['model']} ahead in {r['a_ahead']:.0%} of the draws",
        "the interval holds zero: no evidence either is better" if lo <= 0 <= hi else
        f"the interval leaves out zero: {a['model'] if lo > 0 else b['model']} is better beyond the speakers drawn",
    ])  # fmt: skip


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_a", help="model directory or Hub id (the candidate)")
    ap.add_argument("model_b", help="model directory or Hub id (the one to beat, e.g. checkpoints)")
    ap.add_argument("--data", required=True, nargs="+", help="the prepared caches both were trained on")
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--draws", type=int, default=1000, help="draws of the speakers")
    ap.add_argument("--out", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    try:
        a, b = (AgeGenderClassifier.from_pretrained(m).to(args.device) for m in (args.model_a, args.model_b))
        result = compare(a, b, Corpora(args.data), args.split, args.draws)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    print(report(result))


if __name__ == "__main__":
    main()
