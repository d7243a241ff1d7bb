"""Write a model card for a trained model directory and upload it to the Hugging Face Hub.

    python -m training.push --model checkpoints --repo-id USER/NAME [--private] [--card-only]

`model_card` builds README.md (Hub metadata, evaluation table from metrics.json, training settings from
train_args.json, intended use and limits) offline; only `upload` needs the network (and a token).
"""

import argparse
import csv
import json
from pathlib import Path

from agegender.config import ModelConfig

TASK_NAMES = {"gender": "Gender", "age": "Age group", "age_gender": "Age-gender (joint)"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _front_matter(repo_id: str, metrics: dict) -> str:
    lines = ["---", "license: mit", "library_name: agegender", "pipeline_tag: audio-classification",
             "language:", "- multilingual", "datasets:", "- mozilla-foundation/common_voice_6_1",
             "- mozilla-foundation/common_voice_13_0", "tags:", "- audio-classification", "- age-recognition",
             "- gender-recognition", "- mam-cnn", "- pytorch_model_hub_mixin", "metrics:", "- accuracy", "- f1"]  # fmt: skip
    if metrics.get("tasks"):
        lines += ["model-index:", f"- name: {repo_id.split('/')[-1]}", "  results:"]
        for task, s in metrics["tasks"].items():
            lines += [
                "  - task:", "      type: audio-classification", f"      name: {TASK_NAMES.get(task, task)}",
                "    dataset:", "      type: mozilla-foundation/common_voice", "      name: Common Voice sample (speaker-disjoint test split)",
                f"      split: {metrics.get('split', 'test')}", "    metrics:",
                "    - type: accuracy", f"      value: {s['accuracy']:.4f}",
                "    - type: f1", "      name: macro-F1", f"      value: {s['macro_f1']:.4f}",
                "    - type: recall", "      name: UAR (balanced accuracy)", f"      value: {s['uar']:.4f}",
            ]  # fmt: skip
    return "\n".join(lines + ["---", ""])


def _table(metrics: dict) -> list[str]:
    rows = ["| task | clips | accuracy | macro-F1 | UAR | majority accuracy | majority macro-F1 |",
            "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for task, s in metrics.get("tasks", {}).items():
        rows.append(f"| {task} | {s['n']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | {s['uar']:.3f} | "
                    f"{s.get('majority_accuracy', float('nan')):.3f} | {s.get('majority_macro_f1', float('nan')):.3f} |")  # fmt: skip
    return rows


def model_card(model_dir: str | Path, repo_id: str = "USER/agegender-mamcnn") -> str:
    """README.md text for `model_dir` (reads config.json, metrics.json, val_metrics.json, train_args.json)."""
    model_dir = Path(model_dir)
    cfg = _load(model_dir / "config.json")
    config = ModelConfig(**cfg.get("config", cfg))
    metrics, val, args = _load(model_dir / "metrics.json"), _load(model_dir / "val_metrics.json"), _load(model_dir / "train_args.json")
    sizes = metrics.get("split_sizes") or args.get("split_sizes") or {}
    tasks = sorted(config.tasks, key=lambda t: list(TASK_NAMES).index(t) if t in TASK_NAMES else 99)
    order = {t: i for i, t in enumerate(tasks)}
    for m in (metrics, val):
        if m.get("tasks"):
            m["tasks"] = dict(sorted(m["tasks"].items(), key=lambda kv: order.get(kv[0], 99)))
    log = list(csv.DictReader(open(model_dir / "log.csv"))) if (model_dir / "log.csv").is_file() else []
    weights = model_dir / "model.safetensors"
    size_mb = weights.stat().st_size / 1e6 if weights.is_file() else 0
    L = [_front_matter(repo_id, metrics)]
    L += [f"# {repo_id.split('/')[-1]}: age and gender from speech (MAM-CNN)", "",
          "A multi-attention CNN (MAM-CNN, Tursunov et al., *Sensors* 2021) that predicts, from a voice recording, "
          f"{', '.join(f'**{t}** ({len(config.labels[t])} classes)' for t in tasks)}. "
          f"Variant `{config.variant}`, width {config.width} (channel multiplier; 1.0 is the paper's size), "
          f"{size_mb:.1f} MB of float32 weights. Input: mono 16 kHz speech, {config.n_mels}-band log-mel, "
          f"{config.window_seconds:.2f} s windows; a clip's prediction is the mean of its windows' probabilities.", "",
          "```python", "from agegender import AgeGenderClassifier", "",
          f'model = AgeGenderClassifier.from_pretrained("{repo_id}")  # or a local copy of this directory',
          'print(model.predict("speech.wav").to_dict())',
          "```", ""]  # fmt: skip
    L += ["## Evaluation", ""]
    if metrics:
        L += [f"Per clip on the held-out **{metrics.get('split', 'test')}** split ({metrics['clips']} clips, speakers "
              "never seen in training). The majority baseline always answers the most frequent training class; "
              "macro-F1 and UAR (unweighted average recall) count every class equally, so they are the figures "
              "to read, not accuracy.", ""]  # fmt: skip
        L += _table(metrics) + [""]
        below = [t for t, s in metrics["tasks"].items() if s["accuracy"] < s.get("majority_accuracy", 0)]
        if below:
            L += [f"Accuracy on {', '.join(below)} is *below* the majority baseline's: the balanced training makes the "
                  "model spread its answers over all classes instead of always giving the largest one, which is what "
                  "lifts macro-F1 and UAR above the baseline. Read these figures as weak.", ""]  # fmt: skip
        absent = {t: s["absent_classes"] for t, s in metrics["tasks"].items() if s.get("absent_classes")}
        if absent:
            L += ["Classes absent from this split (not in the macro averages): "
                  + "; ".join(f"{t}: {', '.join(c)}" for t, c in absent.items()) + ".", ""]  # fmt: skip
        small = {t: [c for c, v in s["per_class"].items() if 0 < v["support"] < 10] for t, s in metrics["tasks"].items()}
        if any(small.values()):
            L += ["Classes with fewer than 10 test clips (their scores are noisy): "
                  + "; ".join(f"{t}: {', '.join(c)}" for t, c in small.items() if c) + ".", ""]  # fmt: skip
    else:
        L += ["No metrics.json yet: run `python -m training.evaluate`.", ""]
    if val.get("tasks"):
        L += [f"Validation (model selection, epoch {val.get('epoch')}): " + ", ".join(
            f"{t} accuracy {s['accuracy']:.3f} / macro-F1 {s['macro_f1']:.3f}" for t, s in val["tasks"].items()) + ".", ""]  # fmt: skip
    for png, what in (("confusion.png", "Confusion matrices (test)"), ("curves.png", "Learning curves")):
        if (model_dir / png).is_file():
            L += [f"![{what}]({png})", ""]
    L += ["## Training data and split", "",
          "A sample of Mozilla Common Voice (CC0): 100 random clips per language of Corpus 6.1 plus an English "
          "sample of Delta Segment 13.0 — 4,769 read-speech clips, 1,382 speakers, 58 languages. Gender labels "
          "`female`/`female_feminine` and `male`/`male_masculine` are used; `other` and empty mean no gender label. "
          "Age groups are Common Voice's; **`sixties` means 60 and over** (seventies to nineties are merged). "
          "A head is trained only on clips that carry its label.", ""]  # fmt: skip
    if sizes:
        L += ["| split | clips | speakers |", "|---|---:|---:|"]
        L += [f"| {s} | {v['clips']} | {v['speakers']} |" for s, v in sizes.items()] + [""]
        seed = metrics.get("split_seed")
        L += ["Speaker-disjoint: each `client_id` goes to one split by a hash of (seed, client_id), 80/10/10"
              + (f", seed {seed}" if seed is not None else "") + " (the seed whose validation and test splits "
              "best cover every gender-age class; see `docs/training.md`). `split_speakers.json` lists the "
              "validation and test client_ids.", ""]  # fmt: skip
    if args:
        cmd = (f"python -m training.train --data {args.get('data')} --out {args.get('out')} --epochs {args.get('epochs')} "
               f"--batch-size {args.get('batch_size')} --lr {args.get('lr')} --width {args.get('width')} "
               f"--weight-decay {args.get('weight_decay')} --label-smoothing {args.get('label_smoothing')} "
               f"--balance {args.get('balance')} --speaker-cap {args.get('speaker_cap')} --device {args.get('device')}")  # fmt: skip
        if args.get("max_minutes"):
            cmd += f" --max-minutes {args['max_minutes']:g}"
        prep = []
        if metrics.get("data") and metrics.get("split_seed") is not None:
            prep = [f"python -m training.prepare --data {metrics['data']} --cache {args.get('data')} --seed {metrics['split_seed']}"]
        L += ["## Training", "", "```", *prep, cmd, "```", "",
              f"AdamW, {args.get('schedule')} learning-rate schedule after a one-epoch warm-up, all tasks trained "
              "jointly (mean of the per-task cross-entropies). Each epoch draws one random 2.56 s crop per training "
              "clip, with class-balanced sampling (weight = class count^-balance over gender x age) and speakers "
              "with many clips capped. Augmentation: random gain, white noise at 15-40 dB SNR, SpecAugment time "
              "and frequency masks; nothing that moves pitch or formants. The checkpoint is the epoch with the "
              "best mean validation macro-F1.", ""]  # fmt: skip
        if log:
            minutes = sum(float(r["seconds"]) for r in log) / 60
            L += [f"This run: {len(log)} epochs in {minutes:.0f} min on `{args.get('device')}`"
                  + (f"; kept epoch {val.get('epoch')}." if val.get("epoch") else "."), ""]  # fmt: skip
    L += ["## Intended use and limits", "",
          "For demonstrations and teaching: showing what a speech model can and cannot infer about a voice. "
          "**Not for decisions about people** (access, hiring, age verification, profiling, surveillance).", "",
          "- Trained on a small sample (about 5 hours); figures on other recordings will be lower, and classes "
          "with few clips (teens, sixties+, most female age groups) are unreliable.",
          "- The data is about 4:1 male, mostly young adults, mostly read speech over consumer microphones, in "
          "58 languages with English dominant; accuracy varies with language, accent, microphone and noise.",
          "- Gender here is the binary self-reported label of Common Voice, predicted from the voice; it is not "
          "anyone's gender identity. Age groups are self-reported decades; voices age differently.",
          "- Predictions come with probabilities; treat a low top probability as \"unsure\".", ""]  # fmt: skip
    L += ["## Citation", "", "Tursunov, A.; Mustaqeem; Choeh, J.Y.; Kwon, S. Age and Gender Recognition Using a "
          "Convolutional Neural Network with a Specially Designed Multi-Attention Module through Speech Spectrograms. "
          "*Sensors* 2021, 21, 5892. https://doi.org/10.3390/s21175892", ""]  # fmt: skip
    return "\n".join(L)


def write_card(model_dir: str | Path, repo_id: str = "USER/agegender-mamcnn") -> Path:
    path = Path(model_dir) / "README.md"
    path.write_text(model_card(model_dir, repo_id))
    return path


def upload(model_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload the whole directory (weights, config, card, metrics, figures). Needs the network."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    skip = ["state.pt", "log.csv", "*.log"]
    return str(api.upload_folder(repo_id=repo_id, folder_path=str(model_dir), ignore_patterns=skip,
                                 commit_message="Upload agegender model"))  # fmt: skip


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="trained model directory")
    ap.add_argument("--repo-id", required=True, help="USER/NAME on the Hub")
    ap.add_argument("--private", action="store_true")
    ap.add_argument("--card-only", action="store_true", help="write README.md and stop (offline)")
    args = ap.parse_args(argv)
    print(f"wrote {write_card(args.model, args.repo_id)}")
    if not args.card_only:
        print(f"uploaded: {upload(args.model, args.repo_id, args.private)}")


if __name__ == "__main__":
    main()
