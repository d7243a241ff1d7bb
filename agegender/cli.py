"""Command line: `agegender predict FILE|FOLDER|GLOB ...` and `agegender export --onnx model.onnx`."""

import argparse
import csv
import json
import os
import sys

TASK_ORDER = ("gender", "age", "age_gender")


def format_line(path: str, prediction) -> str:
    labels = prediction.labels
    parts = [f"{t}={labels[t]} ({prediction.probabilities[t][labels[t]]:.2f})" for t in TASK_ORDER if t in labels]
    age_years = prediction.to_dict().get("age_years")
    if age_years is not None:
        parts.append(f"age_years={age_years:.0f}")
    return f"{path}: " + "  ".join(parts)


class CsvRows:
    """file, one label column per task, one probability column per class (`task:label`), age_years, error."""

    def __init__(self, out, labels: dict[str, list[str]]):
        self.tasks = list(labels)
        self.probability_columns = [(t, name) for t in self.tasks for name in labels[t]]
        self.writer = csv.writer(out)
        self.writer.writerow(["file", *self.tasks, *(f"{t}:{n}" for t, n in self.probability_columns), "age_years", "error"])

    def write(self, path: str, prediction=None, error: str = "") -> None:
        if prediction is None:
            self.writer.writerow([path, *[""] * (len(self.tasks) + len(self.probability_columns) + 1), error])
            return
        record = prediction.to_dict()
        probs = [f"{prediction.probabilities[t][n]:.6f}" for t, n in self.probability_columns]
        age_years = record.get("age_years")
        self.writer.writerow([path, *(record.get(t) for t in self.tasks), *probs, "" if age_years is None else age_years, ""])


def load_classifier(name: str | None):
    from .classifier import AgeGenderClassifier

    try:
        return AgeGenderClassifier.from_pretrained(name)
    except Exception as exc:  # a bad id, a missing or mismatched checkpoint: say so in one line
        print(f"error: could not load model {name or '(default)'}: {exc}".splitlines()[0], file=sys.stderr)
        return None


def predict(args) -> int:
    from tqdm import tqdm

    from .batch import find_audio, predict_files

    classifier = load_classifier(args.model)
    if classifier is None:
        return 2
    paths = find_audio(args.inputs)
    workers = args.workers
    if workers is None:  # starting worker processes costs seconds: only worth it for long runs
        workers = min(4, (os.cpu_count() or 1) - 1) if len(paths) > 2 * args.batch_size else 0
    disable = {True: False, False: True}.get(args.progress, None if len(paths) > 1 else True)  # None: if a tty
    rows = CsvRows(sys.stdout, classifier.config.labels) if args.csv else None
    failed = 0
    with tqdm(total=len(paths), unit="file", file=sys.stderr, disable=disable) as bar:
        for path, result in predict_files(classifier, paths, args.batch_size, workers):
            if isinstance(result, str):
                failed += 1
                bar.write(f"error: {path}: {result}", file=sys.stderr)
                if rows:
                    rows.write(path, error=result)
                elif args.json:
                    print(json.dumps({"file": path, "error": result}))
            elif rows:
                rows.write(path, result)
            else:
                print(json.dumps({"file": path, **result.to_dict()}) if args.json else format_line(path, result))
            sys.stdout.flush()  # each row is out as soon as it is known
            bar.update()
    return 1 if failed else 0


def export(args) -> int:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        print("error: the ONNX export needs onnx and onnxscript: pip install 'agegender[export]'", file=sys.stderr)
        return 2
    from .export import export_onnx

    classifier = load_classifier(args.model)
    if classifier is None:
        return 2
    names = export_onnx(classifier, args.onnx, args.opset)
    print(f"wrote {args.onnx}: waveform (batch, samples) -> {', '.join(names)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agegender", description="Age and gender from speech.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("predict", help="classify audio files", description="Classify audio files.")
    p.add_argument("inputs", nargs="+", metavar="FILE", help="audio files, folders (searched recursively) or glob patterns")
    p.add_argument("--model", default=None, help="Hub id or local directory (default: $AGEGENDER_MODEL or bundled)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per line")
    out.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.add_argument("--batch-size", type=positive, default=32, help="files decoded and classified together")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: some for long runs, 0: none)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")  # fmt: skip
    e = commands.add_parser("export", help="write the model as ONNX", description="Write the model as ONNX.")
    e.add_argument("--onnx", required=True, metavar="FILE", help="output file, e.g. model.onnx")
    e.add_argument("--model", default=None, help="Hub id or local directory (default: $AGEGENDER_MODEL or bundled)")
    e.add_argument("--opset", type=int, default=18, help="ONNX opset version")
    args = parser.parse_args(argv)
    return predict(args) if args.command == "predict" else export(args)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
