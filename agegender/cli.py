"""Command line: `python -m agegender predict FILE [FILE ...] [--model ID_OR_DIR] [--json]`."""

import argparse
import json
import sys

from .audio import AudioError

TASK_ORDER = ("gender", "age", "age_gender")


def format_line(path: str, prediction) -> str:
    labels = prediction.labels
    parts = [f"{t}={labels[t]} ({prediction.probabilities[t][labels[t]]:.2f})" for t in TASK_ORDER if t in labels]
    return f"{path}: " + "  ".join(parts)


def predict(args) -> int:
    from .classifier import AgeGenderClassifier

    try:
        classifier = AgeGenderClassifier.from_pretrained(args.model)
    except Exception as exc:  # a bad id, a missing or mismatched checkpoint: say so in one line
        print(f"error: could not load model {args.model or '(default)'}: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    good, waveforms, failed = [], [], 0
    for path in args.files:
        try:
            waveforms.append(classifier.load(path))
            good.append(path)
        except AudioError as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            failed += 1
    for path, prediction in zip(good, classifier.classify_waveforms(waveforms)):
        print(json.dumps({"file": path, **prediction.to_dict()}) if args.json else format_line(path, prediction))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agegender", description="Age and gender from speech.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("predict", help="classify audio files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", default=None, help="Hub id or local directory (default: $AGEGENDER_MODEL or bundled)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    return predict(args)
