"""Evaluate a trained model per clip on one split of a prepared cache (or corpus).

    python -m training.evaluate --model checkpoints --data data/cache/commonvoice --split test

Each clip is classified the way the library does it (`AgeGenderClassifier.classify_waveforms`: window
probabilities averaged over the whole clip). Prints and writes to `<model>/metrics.json` (or --out):
accuracy, macro-F1, UAR, per-class precision/recall/F1, the confusion matrix and the majority-class
baseline per task; draws the confusion matrices to `confusion.png` and lists the validation and test
speakers in `split_speakers.json`.
"""

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from agegender.classifier import AgeGenderClassifier

from .data import Cache, target_matrix
from .metrics import confusion_text, majority, scores
from .prepare import ensure_cache


def predict_items(model: AgeGenderClassifier, cache: Cache, items: list[dict], clips_per_batch: int = 32):
    """Per task, the predicted class index and the averaged probability of every class for each clip."""
    labels = model.config.labels
    pred = {t: [] for t in labels}
    probs = {t: [] for t in labels}
    for i in range(0, len(items), clips_per_batch):
        waves = [cache.waveform(it) for it in items[i : i + clips_per_batch]]
        for p in model.classify_waveforms(waves, batch_size=64):
            for t, names in labels.items():
                row = [p.probabilities[t][n] for n in names]
                probs[t].append(row)
                pred[t].append(int(np.argmax(row)))
    return {t: np.array(v) for t, v in pred.items()}, {t: np.array(v) for t, v in probs.items()}


def split_sizes(cache: Cache) -> dict:
    """Clips and speakers per split."""
    out = {}
    for s in ("train", "val", "test"):
        items = cache.split(s)
        out[s] = {"clips": len(items), "speakers": len({it["speaker"] for it in items})}
    return out


def label_counts(items: list[dict], labels: dict[str, list[str]]) -> dict:
    y = target_matrix(items, labels)
    return {t: dict(Counter(labels[t][v] for v in y[:, j] if v >= 0)) for j, t in enumerate(labels)}


def evaluate_items(model: AgeGenderClassifier, cache: Cache, items: list[dict], train_items: list[dict]) -> dict:
    """Metrics per task on `items`, with the majority baseline learnt from `train_items`."""
    labels = model.config.labels
    pred, probs = predict_items(model, cache, items)
    y = target_matrix(items, labels)
    y_train = target_matrix(train_items, labels)
    tasks = {}
    for j, (task, names) in enumerate(labels.items()):
        ok = y[:, j] >= 0
        s = scores(y[ok, j], pred[task][ok], names)
        p_true = probs[task][ok, y[ok, j]] if ok.any() else np.array([1.0])
        s["nll"] = float(-np.log(np.clip(p_true, 1e-7, 1)).mean())
        tr = y_train[:, j][y_train[:, j] >= 0]
        if len(tr):
            s.update(majority(tr, y[ok, j], names))
        tasks[task] = s
    return {"clips": len(items), "tasks": tasks}


def report(metrics: dict) -> str:
    """A readable summary of `metrics` (the tables and confusion matrices)."""
    lines = [f"{metrics.get('split', '')} split: {metrics['clips']} clips", "",
             f"{'task':<11}{'n':>6}{'acc':>8}{'macroF1':>9}{'UAR':>8}  | {'majority acc':>12}{'maj. F1':>9}"]  # fmt: skip
    for t, s in metrics["tasks"].items():
        lines.append(f"{t:<11}{s['n']:>6}{s['accuracy']:>8.3f}{s['macro_f1']:>9.3f}{s['uar']:>8.3f}  | "
                     f"{s.get('majority_accuracy', math.nan):>12.3f}{s.get('majority_macro_f1', math.nan):>9.3f}")  # fmt: skip
    for t, s in metrics["tasks"].items():
        lines += ["", f"{t}: per class (precision / recall / F1 / support)"]
        for name, c in s["per_class"].items():
            lines.append(f"  {name:<16}{c['precision']:>7.3f}{c['recall']:>7.3f}{c['f1']:>7.3f}{c['support']:>6}")
        lines += [confusion_text(s["confusion"], s["labels"])]
        if s["absent_classes"]:
            lines.append(f"  absent from this split: {', '.join(s['absent_classes'])}")
    return "\n".join(lines)


def plot_confusion(metrics: dict, path: str | Path) -> None:
    """Row-normalised confusion matrices, one panel per task, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(metrics["tasks"].items())
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4.8), squeeze=False)
    for ax, (task, s) in zip(axes[0], tasks):
        m = np.array(s["confusion"], dtype=float)
        norm = m / np.maximum(m.sum(1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        n = len(s["labels"])
        short = [lab.replace("female", "F").replace("male", "M") for lab in s["labels"]]
        ax.set_xticks(range(n), short, rotation=90 if n > 6 else 0, fontsize=7)
        ax.set_yticks(range(n), short, fontsize=7)
        if n <= 12:
            for i in range(n):
                for j in range(n):
                    if m[i, j]:
                        ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                                color="white" if norm[i, j] > 0.5 else "black")  # fmt: skip
        ax.set_title(f"{task}: acc {s['accuracy']:.2f}, macro-F1 {s['macro_f1']:.2f}", fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory or Hub id")
    ap.add_argument("--data", required=True, help="prepared cache, or a corpus to prepare")
    ap.add_argument("--cache", default=None, help="where to prepare --data if it is not a cache")
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    ap.add_argument("--out", default=None, help="directory for metrics.json and confusion.png (default: --model)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)

    cache = Cache(ensure_cache(args.data, args.cache))
    model = AgeGenderClassifier.from_pretrained(args.model).to(args.device)
    items = cache.split(args.split)
    if not items:
        raise SystemExit(f"the {args.split} split of {cache.root} is empty")
    metrics = {"split": args.split, "model": str(args.model), "data": cache.meta.get("source") or str(cache.root),
               "split_seed": cache.meta.get("seed", 0), "per": "clip (window probabilities averaged over the clip)",
               **evaluate_items(model, cache, items, cache.split("train")),
               "split_sizes": split_sizes(cache), "label_counts": label_counts(items, model.config.labels)}  # fmt: skip
    out = Path(args.out or args.model)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    speakers = {s: sorted({it["speaker"] for it in cache.split(s)}) for s in ("val", "test")}
    (out / "split_speakers.json").write_text(json.dumps({"seed": metrics["split_seed"], **speakers}, indent=0))
    plot_confusion(metrics, out / "confusion.png")
    print(report(metrics))
    print(f"\nwrote {out / 'metrics.json'}, {out / 'confusion.png'} and {out / 'split_speakers.json'}")


if __name__ == "__main__":
    main()
