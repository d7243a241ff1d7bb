"""Decode a corpus once into a compact cache that training reads instead of the audio files.

    python -m training.prepare --data ../shared/data/commonvoice --cache data/cache/commonvoice

Every clip goes through `agegender.audio.load_audio` (the same decode, resample and silence trim as
inference, without the voice-activity check: the corpora are speech) in a process pool and is appended as int16 samples to one raw file, `audio.int16`, that
training memory-maps. `index.jsonl` holds one line per clip (offset, length, labels, speaker, split);
`failed.jsonl` the clips that raised an `AudioError`. Re-running skips whatever is already in either,
so an interrupted run resumes where it stopped.
"""

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from agegender.audio import AudioError, load_audio
from agegender.config import SAMPLE_RATE, ModelConfig

from .datasets import Record, read_corpus, search_split_seed

AUDIO, INDEX, FAILED, META = "audio.int16", "index.jsonl", "failed.jsonl", "meta.json"


class Progress:
    """A minimal progress bar on stderr."""

    def __init__(self, total: int, label: str = ""):
        self.total, self.label, self.n, self.t0, self.last = total, label, 0, time.time(), 0.0

    def update(self, n: int = 1):
        self.n += n
        now = time.time()
        every = 0.5 if sys.stderr.isatty() else 10.0  # fewer lines in log files
        if now - self.last > every or self.n == self.total:
            self.last = now
            rate = self.n / max(now - self.t0, 1e-9)
            eta = (self.total - self.n) / max(rate, 1e-9)
            bar = "#" * int(30 * self.n / max(self.total, 1))
            end = "\r" if sys.stderr.isatty() else "\n"
            sys.stderr.write(f"{end}{self.label} [{bar:<30}] {self.n}/{self.total} {rate:.1f}/s eta {eta:.0f}s ")
            sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by an interruption
            pass
    return rows


def _decode(args: tuple[str, int]) -> tuple[str, bytes | None, str]:
    path, rate = args
    try:
        wave = load_audio(path, target_rate=rate, require_speech=False)
    except AudioError as exc:
        return path, None, f"{type(exc).__name__}: {exc}"
    return path, (np.clip(wave, -1.0, 1.0) * 32767).round().astype("<i2").tobytes(), ""


def _init_worker():
    import torch

    torch.set_num_threads(1)


def prepare(records: list[Record], cache: str | Path, sample_rate: int = SAMPLE_RATE, workers: int | None = None,
            seed: int | None = None, source: str = "", quiet: bool = False, corpus: str = "") -> dict:  # fmt: skip
    """Decode `records` into `cache` (resuming); returns a summary with counts."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    meta_path = cache / META
    old = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if old and old["sample_rate"] != sample_rate:
        raise ValueError(f"{cache} holds {old['sample_rate']} Hz audio, not {sample_rate} Hz; use another cache")
    if seed is None:  # keep the split an existing cache was given
        seed = old.get("seed", 0)
    source = source or old.get("source", "")
    corpus = corpus or old.get("corpus") or Path(source or cache).resolve().name
    meta = {"sample_rate": sample_rate, "seed": seed, "source": source, "corpus": corpus, "dtype": "int16"}
    meta_path.write_text(json.dumps(meta, indent=1))

    done = {r["path"]: r for r in _read_jsonl(cache / INDEX)}
    failed = {r["path"]: r for r in _read_jsonl(cache / FAILED)}
    end = max((r["offset"] + r["length"] for r in done.values()), default=0)
    with open(cache / AUDIO, "ab") as f:  # drop samples written after the last indexed clip
        f.truncate(end * 2)
    # rewrite the index without any half-written line
    (cache / INDEX).write_text("".join(json.dumps(r) + "\n" for r in done.values()))

    todo = {r.path: r for r in records if r.path not in done and r.path not in failed}
    workers = workers or os.cpu_count() or 1
    reasons = Counter()
    if todo:
        bar = Progress(len(todo), "decoding") if not quiet else None
        with open(cache / AUDIO, "ab") as audio, open(cache / INDEX, "a") as index, \
                open(cache / FAILED, "a") as fails, Pool(workers, initializer=_init_worker) as pool:  # fmt: skip
            jobs = [(p, sample_rate) for p in todo]
            for path, data, error in pool.imap_unordered(_decode, jobs, chunksize=4):
                rec = todo[path]
                if data is None:
                    fails.write(json.dumps({"path": path, "reason": error}) + "\n")
                    fails.flush()
                    reasons[error.split(":")[0]] += 1
                else:
                    audio.write(data)
                    audio.flush()
                    row = {**asdict(rec), "offset": end, "length": len(data) // 2}
                    index.write(json.dumps(row) + "\n")
                    index.flush()
                    end += len(data) // 2
                if bar:
                    bar.update()
        if bar:
            bar.close()
    n_failed = len(_read_jsonl(cache / FAILED))
    summary = {"clips": len(_read_jsonl(cache / INDEX)), "failed": n_failed, "new_failures": dict(reasons),
               "hours": round(end / sample_rate / 3600, 2)}  # fmt: skip
    return summary


def is_cache(path: str | Path) -> bool:
    return (Path(path) / INDEX).is_file() and (Path(path) / META).is_file()


def ensure_cache(data: str | Path, cache: str | Path | None = None, seed: int | None = None, release_splits: bool = False,
                 workers: int | None = None, sample_rate: int = SAMPLE_RATE) -> Path:  # fmt: skip
    """`data` itself when it is a prepared cache; otherwise prepare it into `cache` (default data/cache/<name>)."""
    if is_cache(data):
        return Path(data)
    cache = Path(cache) if cache else Path("data") / "cache" / Path(data).resolve().name
    records, skipped = read_corpus(data, release_splits)
    print(f"{data}: {len(records)} clips; skipped rows: {skipped}", file=sys.stderr)
    summary = prepare(records, cache, sample_rate, workers, seed, str(data))
    print(f"cache {cache}: {summary}", file=sys.stderr)
    return cache


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="Common Voice / Kaggle directory or a manifest CSV")
    ap.add_argument("--cache", required=True, help="output directory for the decoded cache")
    ap.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the speaker-disjoint split (default: the cache's, else 0)")
    ap.add_argument("--search-seed", type=int, default=0, metavar="N",
                    help="use the seed in 0..N-1 whose val/test splits best cover every class (overrides --seed)")
    ap.add_argument("--release-splits", action="store_true", help="use the corpus's own train/dev/test")
    ap.add_argument("--sample-rate", type=int, default=ModelConfig.sample_rate)
    ap.add_argument("--corpus", default="", help="the corpus's name in reports (default: the --data folder's name)")
    args = ap.parse_args(argv)
    records, skipped = read_corpus(args.data, args.release_splits)
    print(f"{args.data}: {len(records)} labelled clips; skipped rows: {skipped}")
    if args.search_seed:
        args.seed, least = search_split_seed(records, args.search_seed)
        print(f"split seed {args.seed}: every gender-age class has at least {least} clips in val and in test")
    t0 = time.time()
    summary = prepare(records, args.cache, args.sample_rate, args.workers, args.seed, str(args.data), corpus=args.corpus)
    print(f"{args.cache}: {summary} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
