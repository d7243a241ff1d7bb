"""Evaluate a trained model per clip on one split of a prepared cache (or corpus).

    python -m training.evaluate --model checkpoints --data data/cache/cv data/cache/saa --split test

Each clip is classified the way the library does it (`AgeGenderClassifier.classify_waveforms`: window
outputs averaged over the whole clip, then one consistent answer). Prints and writes to
`<model>/metrics.json` (or --out), pooled over all corpora and per corpus: accuracy, macro-F1, UAR (with
its 95% interval over speakers: the speakers are drawn again with replacement, 1,000 times), per-class
precision/recall/F1, the confusion matrix and the majority-class baseline per task, and the age in years'
mean absolute error beside a constant guess (the median training age); draws the confusion
matrices to `confusion.png` and lists the validation and test speakers in `split_speakers.json`.
`--room` hears every clip in a synthetic room through a random microphone (fixed per clip): how much a
channel unlike the corpora's own costs.
"""

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from agegender.classifier import AgeGenderClassifier, Prediction

from .data import Corpora, InARoom, speaker_of, target_matrix
from .metrics import confusion_text, majority, scores, uar_interval
from .prepare import ensure_cache


def classify(model: AgeGenderClassifier, waves: list[np.ndarray], clips_per_batch: int = 32) -> list[Prediction]:
    """The library's prediction for every waveform, a few clips at a time."""
    out = []
    for i in range(0, len(waves), clips_per_batch):
        out += model.classify_waveforms(waves[i : i + clips_per_batch], batch_size=64)
    return out


def predict_items(model: AgeGenderClassifier, cache: Corpora, items: list[dict]) -> list[Prediction]:
    """The library's prediction for every clip (read one batch at a time)."""
    out = []
    for i in range(0, len(items), 32):
        out += classify(model, [cache.waveform(it) for it in items[i : i + 32]])
    return out


def split_sizes(cache: Corpora) -> dict:
    """Clips and speakers per split, pooled and per corpus."""
    out = {}
    for s in ("train", "val", "test"):
        items = cache.split(s)
        out[s] = {"clips": len(items), "speakers": len({speaker_of(it) for it in items})}
        for corpus in sorted({it.get("corpus") for it in cache.items} - {None}):
            sub = [it for it in items if it.get("corpus") == corpus]
            out[s][corpus] = {"clips": len(sub), "speakers": len({it["speaker"] for it in sub})}
    return out


def label_counts(items: list[dict], labels: dict[str, list[str]]) -> dict:
    y = target_matrix(items, labels)
    return {t: dict(Counter(labels[t][v] for v in y[:, j] if v >= 0)) for j, t in enumerate(labels)}


def age_scores(items: list[dict], preds: list[Prediction], train_items: list[dict]) -> dict | None:
    """Mean absolute error in years where the exact age is known, beside always guessing the training median,
    and how often the true age lies in the reported range; for clips with only an age group, how often the
    estimate falls inside the group's years."""
    from agegender.config import AGE_GROUP_YEARS

    estimates = [p.age_years for p in preds]
    if all(e is None for e in estimates):
        return None
    exact = [(it["age_years"], e) for it, e in zip(items, estimates) if it.get("age_years") is not None]
    ranges = [(it["age_years"], p.age_years_range) for it, p in zip(items, preds) if it.get("age_years") is not None]
    grouped = [(it["age"], e) for it, e in zip(items, estimates) if it.get("age_years") is None and it.get("age")]
    out = {"n": len(exact)}
    if exact:
        truth, est = np.array(exact).T
        train_years = [it["age_years"] for it in train_items if it.get("age_years") is not None]
        median = float(np.median(train_years)) if train_years else float(np.median(truth))
        out.update(mae=float(np.abs(truth - est).mean()), median_guess=median,
                   median_guess_mae=float(np.abs(truth - median).mean()),
                   range_coverage=float(np.mean([low <= y <= high for y, (low, high) in ranges])))  # fmt: skip
    if grouped:
        inside = [AGE_GROUP_YEARS[a][0] <= e < AGE_GROUP_YEARS[a][1] for a, e in grouped]
        out.update(group_n=len(grouped), inside_group=float(np.mean(inside)))
    return out


def task_scores(preds: list[Prediction], items: list[dict], train_items: list[dict], labels: dict,
                intervals: bool = False) -> dict:  # fmt: skip
    """Per task: accuracy, macro-F1, UAR, per class, confusion, NLL and the majority baseline; with `intervals`,
    the UAR's 95% speaker-bootstrap interval too (`uar_ci95`)."""
    y = target_matrix(items, labels)
    y_train = target_matrix(train_items, labels)
    tasks = {}
    for j, (task, names) in enumerate(labels.items()):
        ok = y[:, j] >= 0
        probs = np.array([[p.probabilities[task][n] for n in names] for p in preds]).reshape(len(preds), len(names))
        said = probs[ok].argmax(1)
        s = scores(y[ok, j], said, names)
        p_true = probs[ok, y[ok, j]] if ok.any() else np.array([1.0])
        s["nll"] = float(-np.log(np.clip(p_true, 1e-7, 1)).mean())
        if intervals and ok.any():
            speakers = [speaker_of(it) for it, keep in zip(items, ok) if keep]
            s["uar_ci95"] = uar_interval(y[ok, j], said, speakers)
        tr = y_train[:, j][y_train[:, j] >= 0]
        if len(tr):
            s.update(majority(tr, y[ok, j], names))
        tasks[task] = s
    return tasks


def summarise(preds: list[Prediction], items: list[dict], train_items: list[dict], labels: dict,
              intervals: bool = False) -> dict:  # fmt: skip
    out = {"clips": len(items), "tasks": task_scores(preds, items, train_items, labels, intervals)}
    ages = age_scores(items, preds, train_items)
    if ages:
        out["age_years"] = ages
    return out


def evaluate_items(model: AgeGenderClassifier, cache: Corpora, items: list[dict], train_items: list[dict],
                   preds: list[Prediction] | None = None, intervals: bool = False) -> dict:  # fmt: skip
    """Metrics on `items`, pooled and per corpus, with baselines learnt from `train_items` (and, with
    `intervals`, speaker-bootstrap intervals for the UARs)."""
    labels = model.config.labels
    preds = preds if preds is not None else predict_items(model, cache, items)
    out = summarise(preds, items, train_items, labels, intervals)
    corpora = sorted({it.get("corpus") for it in items} - {None})
    if len(corpora) > 1:
        out["corpora"] = {}
        for c in corpora:
            sel = [i for i, it in enumerate(items) if it.get("corpus") == c]
            train_c = [it for it in train_items if it.get("corpus") == c]
            out["corpora"][c] = summarise([preds[i] for i in sel], [items[i] for i in sel], train_c, labels, intervals)
    return out


LENGTH_BUCKETS = {"0.25-0.5 s": (0.25, 0.5), "0.5-1 s": (0.5, 1.0), "1-2.5 s": (1.0, 2.5), ">2.5 s": (2.5, None)}


def by_length(model: AgeGenderClassifier, cache: Corpora, items: list[dict], seed: int = 0) -> dict:
    """Accuracy by length of speech. For the short buckets each clip long enough gives one random stretch of
    a random length inside the bucket, which goes through `load_audio` as a user's clip would (a stretch it
    refuses is counted, not scored); ">2.5 s" scores the clips that long, whole."""
    from agegender.audio import AudioError, load_audio

    rng = np.random.default_rng(seed)
    rate = model.config.sample_rate
    out = {}
    for name, (low, high) in LENGTH_BUCKETS.items():
        waves, kept, tried = [], [], 0
        for it in items:
            wave = cache.waveform(it)
            n = len(wave) if high is None else int(rng.uniform(low, high) * rate)
            if len(wave) < n or len(wave) <= low * rate:
                continue
            tried += 1
            start = rng.integers(0, len(wave) - n + 1)
            try:
                waves.append(wave if high is None else load_audio(wave[start : start + n], rate, rate))
            except AudioError:
                continue
            kept.append(it)
        if kept:
            tasks = task_scores(classify(model, waves), kept, [], model.config.labels)
            out[name] = {"clips": len(kept), "refused": tried - len(kept),
                         **{f"{t}_{k}": round(tasks[t][k], 4) for t in ("gender", "age") if t in tasks
                            for k in ("accuracy", "uar")}}  # fmt: skip
    return out


def _table(metrics: dict, title: str) -> list[str]:
    lines = [title, f"{'task':<11}{'n':>6}{'acc':>8}{'macroF1':>9}{'UAR':>8}{'(95%)':>14}{'F rec':>7}{'M rec':>7}  | "
             f"{'majority acc':>12}{'maj. F1':>9}"]  # fmt: skip
    for t, s in metrics["tasks"].items():
        rec = [s["per_class"].get(g, {}).get("recall", math.nan) if t == "gender" else math.nan for g in ("female", "male")]
        ci = "{:.3f}-{:.3f}".format(*s["uar_ci95"]) if "uar_ci95" in s else ""
        lines.append(f"{t:<11}{s['n']:>6}{s['accuracy']:>8.3f}{s['macro_f1']:>9.3f}{s['uar']:>8.3f}{ci:>14}"
                     f"{rec[0]:>7.3f}{rec[1]:>7.3f}  | {s.get('majority_accuracy', math.nan):>12.3f}"
                     f"{s.get('majority_macro_f1', math.nan):>9.3f}")  # fmt: skip
    a = metrics.get("age_years")
    if a and a.get("n"):
        lines.append(f"age in years: MAE {a['mae']:.2f} on {a['n']} clips (constant guess {a['median_guess']:.0f}: "
                     f"MAE {a['median_guess_mae']:.2f}); true age inside the 80% range: {a['range_coverage']:.2f}")  # fmt: skip
    if a and a.get("group_n"):
        lines.append(f"age in years inside the labelled group's years: {a['inside_group']:.3f} of {a['group_n']} clips")
    return lines


def report(metrics: dict) -> str:
    """A readable summary of `metrics`: pooled and per-corpus tables, then per-class scores and confusions."""
    lines = _table(metrics, f"{metrics.get('split', '')} split, all corpora: {metrics['clips']} clips")
    for name, m in metrics.get("corpora", {}).items():
        lines += [""] + _table(m, f"{name}: {m['clips']} clips")
    for t, s in metrics["tasks"].items():
        lines += ["", f"{t} (all corpora): per class (precision / recall / F1 / support)"]
        for name, c in s["per_class"].items():
            lines.append(f"  {name:<16}{c['precision']:>7.3f}{c['recall']:>7.3f}{c['f1']:>7.3f}{c['support']:>6}")
        lines += [confusion_text(s["confusion"], s["labels"])]
        if s["absent_classes"]:
            lines.append(f"  absent from this split: {', '.join(s['absent_classes'])}")
    return "\n".join(lines)


def plot_confusion(metrics: dict, path: str | Path) -> None:
    """Row-normalised confusion matrices as a PNG: one panel per task, one row for all corpora and one per corpus."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("all corpora", metrics)] + list(metrics.get("corpora", {}).items())
    tasks = list(metrics["tasks"])
    fig, axes = plt.subplots(len(rows), len(tasks), figsize=(5.2 * len(tasks), 4.8 * len(rows)), squeeze=False)
    for (name, m), row in zip(rows, axes):
        for ax, task in zip(row, tasks):
            s = m["tasks"][task]
            c = np.array(s["confusion"], dtype=float)
            norm = c / np.maximum(c.sum(1, keepdims=True), 1)
            ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
            n = len(s["labels"])
            short = [lab.replace("female", "F").replace("male", "M") for lab in s["labels"]]
            ax.set_xticks(range(n), short, rotation=90 if n > 6 else 0, fontsize=7)
            ax.set_yticks(range(n), short, fontsize=7)
            for i in range(n):
                for j in range(n):
                    if c[i, j]:
                        ax.text(j, i, int(c[i, j]), ha="center", va="center", fontsize=6,
                                color="white" if norm[i, j] > 0.5 else "black")  # fmt: skip
            ax.set_title(f"{name}, {task}: acc {s['accuracy']:.2f}, UAR {s['uar']:.2f}", fontsize=9)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory or Hub id")
    ap.add_argument("--data", required=True, nargs="+", help="prepared caches, or one corpus to prepare")
    ap.add_argument("--cache", default=None, help="where to prepare --data if it is not a cache")
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    ap.add_argument("--out", default=None, help="directory for metrics.json and confusion.png (default: --model)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--by-length", action="store_true", help="also score random short stretches (0.25-2.5 s)")
    ap.add_argument("--room", action="store_true", help="hear every clip in a synthetic room through a random "
                    "microphone (training's --room, the same for a clip on every run): robustness to the channel")  # fmt: skip
    args = ap.parse_args(argv)

    cache = Corpora(args.data if len(args.data) > 1 else [ensure_cache(args.data[0], args.cache)])
    model = AgeGenderClassifier.from_pretrained(args.model).to(args.device)
    if args.room:
        cache = InARoom(cache)
    items = cache.split(args.split)
    if not items:
        raise SystemExit(f"the {args.split} split of {', '.join(args.data)} is empty")
    metrics = {"split": args.split, "model": str(args.model),
               "data": {c.corpus: c.meta.get("source") or str(c.root) for c in cache.caches},
               "split_seed": {c.corpus: c.meta.get("seed", 0) for c in cache.caches},
               "per": "clip (window outputs averaged over the clip, then one consistent answer)",
               "channel": "synthetic room and microphone (--room)" if args.room else "as recorded",
               **evaluate_items(model, cache, items, cache.split("train"), intervals=True),
               "split_sizes": split_sizes(cache), "label_counts": label_counts(items, model.config.labels)}  # fmt: skip
    if args.by_length:
        metrics["by_length"] = by_length(model, cache, items)
    out = Path(args.out or args.model)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    speakers = {c: {s: sorted({it["speaker"] for it in cache.split(s) if it["corpus"] == c}) for s in ("val", "test")}
                for c in cache.corpora}  # fmt: skip
    (out / "split_speakers.json").write_text(json.dumps({"seed": metrics["split_seed"], **speakers}, indent=0))
    plot_confusion(metrics, out / "confusion.png")
    print(report(metrics))
    for bucket, r in metrics.get("by_length", {}).items():
        print(f"speech {bucket:<11} {r}")
    print(f"\nwrote {out / 'metrics.json'}, {out / 'confusion.png'} and {out / 'split_speakers.json'}")


if __name__ == "__main__":
    main()
