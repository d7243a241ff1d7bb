"""Many files through one model: find them, decode them in worker processes, classify them in batches.

Memory stays flat however many files there are: only the batch being classified and the one being decoded
are held at once. A file that cannot be read yields its error message instead of a prediction.
"""

import glob
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .audio import FFMPEG_FORMATS, MAX_SECONDS, AudioError, load_audio

SOUNDFILE_FORMATS = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff", ".au"}
AUDIO_SUFFIXES = SOUNDFILE_FORMATS | FFMPEG_FORMATS
NOTHING_FOUND = "no audio files found"


def find_audio(inputs: list[str]) -> list[str]:
    """Files as given, folders searched recursively for audio files, glob patterns expanded (sorted).

    An input that names nothing is kept as it is, so that it gets its own error.
    """
    found = []
    for item in inputs:
        matches = [item] if os.path.exists(item) or not glob.has_magic(item) else sorted(glob.glob(item, recursive=True))
        before = len(found)
        for match in matches:
            if os.path.isdir(match):
                found += sorted(
                    str(p) for p in Path(match).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                )
            else:
                found.append(match)
        if len(found) == before:
            found.append(item)
    return found


def read(path: str, sample_rate: int, max_seconds: float = MAX_SECONDS) -> np.ndarray | str:
    """`load_audio` for one file, with any failure returned as a message instead of raised."""
    try:
        if os.path.isdir(path):
            return NOTHING_FOUND
        if glob.has_magic(path) and not os.path.exists(path):
            return "no files match this pattern"
        return load_audio(path, target_rate=sample_rate, max_seconds=max_seconds)
    except AudioError as exc:
        return str(exc)
    except Exception as exc:  # a decoder crash on one odd file must not end a long run
        return f"could not read the file ({type(exc).__name__}: {exc})"


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def read_batches(paths: list[str], sample_rate: int, batch_size: int, workers: int) -> Iterator[list]:
    """Yield `[(path, waveform or error message), ...]` for consecutive batches of `paths`.

    With `workers` > 0, worker processes decode the next batch while the caller classifies this one.
    """
    batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    if workers <= 0:
        for batch in batches:
            yield [(p, read(p, sample_rate)) for p in batch]
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:

        def submit(batch: list[str]) -> list[Future]:
            return [pool.submit(read, p, sample_rate) for p in batch]

        pending = submit(batches[0]) if batches else []
        for i, batch in enumerate(batches):
            current, pending = pending, submit(batches[i + 1]) if i + 1 < len(batches) else []
            yield [(p, f.result()) for p, f in zip(batch, current)]


def predict_files(classifier, paths: list[str], batch_size: int = 32, workers: int = 0) -> Iterator[tuple]:
    """Yield `(path, Prediction or error message)` for every path, in order."""
    for batch in read_batches(paths, classifier.config.sample_rate, batch_size, workers):
        good = [(p, w) for p, w in batch if not isinstance(w, str)]
        try:
            predictions = iter(classifier.classify_waveforms([w for _, w in good], batch_size))
        except Exception:  # find the one waveform the network chokes on instead of losing the batch
            predictions = iter(_one_by_one(classifier, [w for _, w in good]))
        for path, wave in batch:
            yield path, wave if isinstance(wave, str) else next(predictions)


def _one_by_one(classifier, waveforms: list[np.ndarray]) -> Iterator:
    for wave in waveforms:
        try:
            yield classifier.classify_waveforms([wave])[0]
        except Exception as exc:
            yield f"could not classify the file ({type(exc).__name__}: {exc})"
