"""How often the audio checks refuse real speech, and how often they refuse sound that is not speech.

    python -m bench.speech_gate                       # every clip under ../shared/data, and 40 of each negative
    python -m bench.speech_gate --data DIR [DIR ...] --negatives 100 --workers 2

Real speech goes through `agegender.audio.load_audio` exactly as in `predict` (decode, level checks,
voice-activity check); every refusal is counted by reason. The negatives are `training.negatives`
(music, rhythmic tones, steady tones, hum, noise, noise bursts, silence) at random lengths of 1-8 s.
"""

import argparse
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from agegender.audio import AudioError, load_audio
from agegender.config import SAMPLE_RATE as RATE
from training.datasets import read_corpus
from training.negatives import NEGATIVES



def _init():
    import torch

    torch.set_num_threads(1)


def _check(source) -> str:
    """'' when accepted, else the refusal's error class."""
    try:
        load_audio(source) if isinstance(source, str) else load_audio(source, RATE)
    except AudioError as exc:
        return type(exc).__name__ + ": " + str(exc)
    return ""


def _negative(args) -> str:
    kind, seed = args
    rng = np.random.default_rng(seed)
    return _check(NEGATIVES[kind](rng, rng.uniform(1, 8), RATE))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    ap.add_argument("--data", nargs="*", default=sorted(str(p) for p in default.glob("*") if p.is_dir()))
    ap.add_argument("--negatives", type=int, default=40, help="clips of each kind of non-speech")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    with Pool(args.workers, initializer=_init) as pool:
        print(f"{'not speech':<16}{'clips':>7}{'refused':>9}")
        for kind in NEGATIVES:
            results = pool.map(_negative, [(kind, s) for s in range(args.negatives)])
            refused = sum(bool(r) for r in results)
            print(f"{kind:<16}{len(results):>7}{refused / len(results):>9.1%}  {Counter(r.split(':')[0] for r in results if r)}")
        total = bad = 0
        print(f"\n{'speech corpus':<24}{'clips':>7}{'refused':>9}{'rate':>8}  reasons")
        for data in args.data:
            records, _ = read_corpus(data)
            t0 = time.time()
            results = pool.map(_check, [r.path for r in records], chunksize=8)
            refused = [(r.path, e) for r, e in zip(records, results) if e]
            total, bad = total + len(records), bad + len(refused)
            reasons = Counter(e.split(":")[0] for _, e in refused)
            print(f"{Path(data).name:<24}{len(records):>7}{len(refused):>9}{len(refused) / len(records):>8.2%}  "
                  f"{dict(reasons)}  ({time.time() - t0:.0f} s)", flush=True)  # fmt: skip
            for path, e in refused[:20]:
                print(f"    {Path(path).name}: {e}")
        if total:
            print(f"{'all':<24}{total:>7}{bad:>9}{bad / total:>8.2%}")


if __name__ == "__main__":
    main()
