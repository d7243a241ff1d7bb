"""Memory and speed of batch prediction on many files: `python -m bench.batch [--files 5000]`.

Writes `--files` generated clips (1.5-4 s, 16 kHz wav) to a temporary folder, then runs, each in its own
process and side by side:

- `agegender predict FOLDER --csv`: streams in batches, decoding in the process itself (`--workers 0`)
  and in worker processes (`--workers`, default 1);
- decode all, then classify all, keeping every result: what `predict_batch` does, and what the command
  line did before it streamed (its progress counts decoded files).

For each it prints the memory in use (PSS: resident memory of the process and its workers, shared pages
counted once) when 10%, 25%, 50%, 75% and 100% of the files are done, the peak, and files per second.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
MARKS = (0.1, 0.25, 0.5, 0.75, 1.0)

HOLD_ALL = """
import sys
from agegender import AgeGenderClassifier
from agegender.batch import find_audio
clf = AgeGenderClassifier.from_pretrained(sys.argv[2] if len(sys.argv) > 2 else None)
paths = find_audio([sys.argv[1]])
waves = []
for i, p in enumerate(paths, 1):
    waves.append(clf.load(p))
    print("decoded", i, flush=True)
results = clf.classify_waveforms(waves)  # what predict_batch does: every waveform, then every result, at once
for p, r in zip(paths, results):
    print(p, r.gender, flush=True)
"""


def write_clips(folder: Path, n: int, seed: int = 0) -> float:
    """n speech-like clips of 1.5-4 s at assorted pitches; returns their total duration in seconds."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for i in range(n):
        seconds, f0 = rng.uniform(1.5, 4.0), rng.uniform(90, 250)
        t = np.arange(int(seconds * RATE)) / RATE
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
        x = 0.2 * tone * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6))) + 0.002 * rng.standard_normal(len(t))
        sub = folder / f"{i // 500:02d}"
        sub.mkdir(exist_ok=True)
        sf.write(sub / f"{i:05d}.wav", x.astype(np.float32), RATE, subtype="PCM_16")
        total += seconds
    return total


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of a process and all its descendants, in MB (Linux /proc): resident memory with
    pages shared between the processes (libtorch's) counted once in all."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            total += int(next(line.split()[1] for line in rollup.splitlines() if line.startswith("Pss:")))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total / 1024


def run(name: str, cmd: list[str], out: Path, n: int, progress) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with open(out, "w") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    marks, peak = {}, 0.0
    while proc.poll() is None:
        rss = tree_pss_mb(proc.pid)
        peak = max(peak, rss)
        done = progress(out)
        for frac in MARKS:
            if frac not in marks and done >= frac * n:
                marks[frac] = rss
        time.sleep(0.5)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"{name}: exit status {proc.returncode}")
    at = " ".join(f"{marks[f]:5.0f}" if f in marks else "    -" for f in MARKS)
    print(f"{name:<30} {at} MB  peak {peak:5.0f} MB  {n / seconds:5.1f} files/s ({seconds:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--model", default=None, help="Hub id or directory (default: the bundled model)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    model = ["--model", args.model] if args.model else []

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        hours = write_clips(folder, args.files) / 3600
        waveform_mb = hours * 3600 * RATE * 4 / 2**20
        print(f"{args.files} clips, {hours:.2f} h of audio ({waveform_mb:.0f} MB as float32 at 16 kHz); "
              f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}")  # fmt: skip

        def csv_rows(path: Path) -> int:
            with open(path, "rb") as f:
                return max(0, sum(1 for _ in f) - 1)

        def decoded(path: Path) -> int:
            with open(path, "rb") as f:
                return sum(1 for line in f if line.startswith(b"decoded "))

        print(f"{'memory (PSS) when done:':<30} " + " ".join(f"{int(100 * f):>4}%" for f in MARKS))
        for workers in sorted({0, args.workers}):
            stream = [sys.executable, "-m", "agegender", "predict", str(folder), "--csv", "--workers", str(workers), *model]
            run(f"agegender predict --workers {workers}", stream, Path(tmp) / "stream.csv", args.files, csv_rows)
        hold = [sys.executable, "-c", HOLD_ALL, str(folder), *model[1:]]
        run("decode all, then classify all", hold, Path(tmp) / "hold.txt", args.files, decoded)


if __name__ == "__main__":
    main()
