"""Choose the gender decision bias on the validation split and write it into a model's config.json.

    python -m training.calibrate --model runs/all --data data/cache/cv data/cache/saa data/cache/so762

A voice's gender is the more likely one after a bias is added to the female log-odds. Without it, the
network misses more women than men on some corpora, and children (whose voices differ little by sex)
lean the other way, so there are two biases: one for adult voices, one extra for voices placed in the
"teens" group. Both are chosen on validation clips only; `train` runs this after training.
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from agegender.answers import gender_bias, joint_log_probs
from agegender.classifier import AgeGenderClassifier

from .data import Corpora
from .evaluate import predict_items


def choose_gender_bias(model: AgeGenderClassifier, cache: Corpora, items: list[dict], max_gap: float = 0.03,
                       grid=np.arange(-6.0, 6.01, 0.1), child_group: str = "teens") -> tuple[dict, dict]:  # fmt: skip
    """The female log-odds biases, chosen on `items` (validation): one for adult voices and one extra for
    voices placed in `child_group`. Among the pairs that bring female and male recall within `max_gap`
    on every corpus, the one with the best mean gender UAR; if none does, the one with the smallest
    largest gap. Returns {"gender_bias", "gender_bias_by_age"} and the recalls per corpus it gives."""
    config = model.config
    preds = predict_items(model, cache, items)
    keep = [i for i, it in enumerate(items) if it["gender"] in ("female", "male")]
    cells = [joint_log_probs({t: preds[i].heads[t] for t in config.tasks}, config, preds[i].heads.get("log_years"),
                             preds[i].heads.get("log_scale")) for i in keep]  # fmt: skip
    genders, ages = cells[0][0], cells[0][1]
    log_joint = np.stack([c[2] for c in cells])  # (clips, genders, ages)
    female = np.array([items[i]["gender"] == "female" for i in keep])
    corpus = np.array([items[i].get("corpus", "") for i in keep])
    f_row = genders.index("female")
    child = ages.index(child_group) if child_group in ages else None
    best = None
    for adult in grid:
        for extra in grid if child is not None else [0.0]:
            candidate = {"gender_bias": round(float(adult), 2),
                         "gender_bias_by_age": {child_group: round(float(extra), 2)} if child is not None else {}}  # fmt: skip
            joint = log_joint + gender_bias(replace(config, **candidate), genders, ages)
            joint = np.exp(joint - joint.max(axis=(1, 2), keepdims=True))
            said_female = joint.sum(2).argmax(1) == f_row
            rec = {c: (said_female[(corpus == c) & female].mean(), (~said_female[(corpus == c) & ~female]).mean())
                   for c in sorted(set(corpus))}  # fmt: skip
            gaps = [abs(f - m) for f, m in rec.values() if not (np.isnan(f) or np.isnan(m))]
            uar = float(np.nanmean([(f + m) / 2 for f, m in rec.values()]))
            key = (max(gaps) <= max_gap, uar if max(gaps) <= max_gap else -max(gaps), -abs(adult) - abs(extra))
            if best is None or key > best[0]:
                best = (key, candidate, rec)
    _, chosen, rec = best
    return chosen, {str(c): [round(float(f), 4), round(float(m), 4)] for c, (f, m) in rec.items()}


def calibrate(model_dir: str | Path, cache: Corpora, device: str = "cpu") -> dict:
    """Choose the biases on `cache`'s validation split, save them in `model_dir`; returns what was chosen."""
    model = AgeGenderClassifier.from_pretrained(model_dir).to(device)
    bias, table = choose_gender_bias(model, cache, cache.split("val"))
    for key, value in bias.items():
        setattr(model.config, key, value)
    model.save_pretrained(model_dir)
    record = {**bias, "val_recalls_female_male": table}
    (Path(model_dir) / "gender_bias.json").write_text(json.dumps(record, indent=1))
    return record


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory")
    ap.add_argument("--data", required=True, nargs="+", help="the prepared caches it was trained on")
    args = ap.parse_args(argv)
    print(json.dumps(calibrate(args.model, Corpora(args.data))))


if __name__ == "__main__":
    main()
