"""Simple baselines fitted on the same training split, to put the network's test figures in context.

    python -m training.baselines --data data/cache/cv data/cache/saa data/cache/so762 --split test

- pitch threshold: a clip is "female" when its median F0 is above a threshold tuned on the training clips
  (the best balanced accuracy);
- MFCC + F0 statistics (20 MFCC means and standard deviations, F0 median, mean, spread and percentiles,
  voiced share) into a logistic regression for gender and age group, and a ridge regression for the age
  in years (on the clips whose exact age is known).

Features come from the same decoded, trimmed waveforms the network trains on (the prepared caches),
at most `--max-seconds` of each clip. Writes `baselines.json` (in --out) with the same metrics per corpus.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from agegender.config import AGE_GROUPS, GENDERS
from agegender.audio import frame_levels_db

from .data import Corpora
from .metrics import scores

F0_RANGE = (60.0, 500.0)


def clip_features(wave: np.ndarray, rate: int) -> np.ndarray:
    """MFCC means and spreads, then F0 statistics over the loud frames (median F0 first)."""
    import librosa

    mfcc = librosa.feature.mfcc(y=wave, sr=rate, n_mfcc=20, n_fft=512, hop_length=160)
    f0 = librosa.yin(wave, fmin=F0_RANGE[0], fmax=F0_RANGE[1], sr=rate, frame_length=1024, hop_length=160)
    levels, _ = frame_levels_db(wave, rate)
    n = min(len(f0), len(levels))
    f0, loud = f0[:n], levels[:n] > levels.max() - 25
    voiced = f0[loud & (f0 > F0_RANGE[0] * 1.05) & (f0 < F0_RANGE[1] * 0.95)]
    if len(voiced) < 5:
        voiced = f0[:n]
    stats = [np.median(voiced), voiced.mean(), voiced.std(), *np.percentile(voiced, [10, 90]), len(voiced) / n]
    return np.concatenate([stats, mfcc.mean(1), mfcc.std(1)]).astype(np.float64)


def features(cache: Corpora, items: list[dict], max_seconds: float) -> np.ndarray:
    rate = cache.sample_rate
    return np.stack([clip_features(cache.waveform(it)[: int(max_seconds * rate)], rate) for it in items])


def pitch_threshold(median_f0: np.ndarray, female: np.ndarray) -> float:
    """The median-F0 threshold with the best balanced accuracy on these clips."""
    best = (-1.0, 0.0)
    for t in np.unique(np.round(median_f0)):
        guess = median_f0 > t
        uar = (guess[female].mean() + (~guess[~female]).mean()) / 2
        best = max(best, (uar, float(t)))
    return best[1]


def fit_and_score(cache: Corpora, split: str, max_seconds: float = 10.0) -> dict:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = cache.split("train"), cache.split(split)
    x_train, x_test = features(cache, train, max_seconds), features(cache, test, max_seconds)

    def model(kind):
        return make_pipeline(StandardScaler(), kind)

    predictions = {}
    g_train = np.array([it["gender"] or "" for it in train])
    has_g = np.isin(g_train, GENDERS)
    threshold = pitch_threshold(x_train[has_g, 0], g_train[has_g] == "female")
    predictions["gender_pitch"] = np.where(x_test[:, 0] > threshold, "female", "male")
    clf = model(LogisticRegression(max_iter=2000, class_weight="balanced")).fit(x_train[has_g], g_train[has_g])
    predictions["gender_mfcc"] = clf.predict(x_test)
    a_train = np.array([it["age"] or "" for it in train])
    has_a = np.isin(a_train, AGE_GROUPS)
    clf = model(LogisticRegression(max_iter=2000, class_weight="balanced")).fit(x_train[has_a], a_train[has_a])
    predictions["age_mfcc"] = clf.predict(x_test)
    y_train = np.array([it.get("age_years") or np.nan for it in train], dtype=float)
    has_y = ~np.isnan(y_train)
    if has_y.any():
        reg = model(Ridge(alpha=1.0)).fit(x_train[has_y], np.log(y_train[has_y]))
        predictions["years_mfcc"] = np.exp(reg.predict(x_test))

    def report(sel: np.ndarray, train_sel: np.ndarray) -> dict:
        out = {"clips": int(sel.sum()), "pitch_threshold_hz": threshold}
        for name, task, labels in (("gender_pitch", "gender", GENDERS), ("gender_mfcc", "gender", GENDERS),
                                   ("age_mfcc", "age", AGE_GROUPS)):  # fmt: skip
            truth = np.array([it[task] or "" for it in test])
            ok = sel & np.isin(truth, labels)
            if ok.any():
                s = scores([labels.index(v) for v in truth[ok]], [labels.index(v) for v in predictions[name][ok]], labels)
                out[name] = {k: s[k] for k in ("n", "accuracy", "macro_f1", "uar")}
                if task == "gender":
                    out[name].update({f"{g}_recall": s["per_class"][g]["recall"] for g in GENDERS})
        years = np.array([it.get("age_years") or np.nan for it in test], dtype=float)
        ok = sel & ~np.isnan(years)
        if "years_mfcc" in predictions and ok.any():
            median = np.nanmedian(y_train[train_sel]) if (~np.isnan(y_train[train_sel])).any() else np.nanmedian(years)
            out["years_mfcc"] = {"n": int(ok.sum()), "mae": float(np.abs(predictions["years_mfcc"][ok] - years[ok]).mean()),
                                 "median_guess_mae": float(np.abs(median - years[ok]).mean())}  # fmt: skip
        return out

    result = {"split": split, "all": report(np.ones(len(test), bool), np.ones(len(train), bool)), "corpora": {}}
    for c in cache.corpora:
        result["corpora"][c] = report(np.array([it["corpus"] == c for it in test]),
                                      np.array([it["corpus"] == c for it in train]))  # fmt: skip
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, nargs="+", help="prepared caches")
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--max-seconds", type=float, default=10.0)
    ap.add_argument("--out", default=".", help="directory for baselines.json")
    args = ap.parse_args(argv)
    result = fit_and_score(Corpora(args.data), args.split, args.max_seconds)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "baselines.json").write_text(json.dumps(result, indent=1))
    for name, r in [("all corpora", result["all"]), *result["corpora"].items()]:
        print(f"{name} ({r['clips']} clips; pitch threshold {r['pitch_threshold_hz']:.0f} Hz)")
        for key in ("gender_pitch", "gender_mfcc", "age_mfcc"):
            if key in r:
                extra = f"  F rec {r[key]['female_recall']:.3f}  M rec {r[key]['male_recall']:.3f}" if "female_recall" in r[key] else ""
                print(f"  {key:<13} acc {r[key]['accuracy']:.3f}  macro-F1 {r[key]['macro_f1']:.3f}  UAR {r[key]['uar']:.3f}{extra}")
        if "years_mfcc" in r:
            print(f"  years_mfcc    MAE {r['years_mfcc']['mae']:.2f} (median guess {r['years_mfcc']['median_guess_mae']:.2f})")


if __name__ == "__main__":
    main()
