"""Decode, check and normalise audio: any file or array in, mono float32 speech at the model rate out.

`load_audio` is the one entry point used for inference, the app and training data preparation.
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from .config import SAMPLE_RATE

MIN_SPEECH_SECONDS = 0.25  # one short word
MAX_SECONDS = 600.0
MIN_SAMPLE_RATE = 8000
SILENCE_DBFS = -55.0  # a recording whose loudest 25 ms frame is quieter than this is silent
SPEECH_RANGE_DB = 40.0  # frames this far below the loudest one count as pauses
MIN_MODULATION_DB = 6.0  # speech rises and falls by syllable; a steadier sound is noise or a tone
MIN_SPEECH_SHARE = 0.22  # of a recording's sound that the voice-activity detector must call speech
MIN_VOICED_SECONDS = 0.15  # and never less than this (one short word gives about 0.2 s)
FFMPEG_FORMATS = {".m4a", ".mp4", ".aac", ".webm", ".wma", ".amr", ".3gp", ".mkv", ".mov"}


class AudioError(ValueError):
    """Audio that cannot be classified; the message is meant for a person."""


class UnreadableAudioError(AudioError):
    """Missing, empty or corrupt file."""


class UnsupportedFormatError(AudioError):
    """A container this installation cannot decode."""


class InvalidSamplesError(AudioError):
    """NaN or infinite samples, or an impossible sample rate or shape."""


class TooShortError(AudioError):
    """Less than `MIN_SPEECH_SECONDS` of sound."""


class TooLongError(AudioError):
    """Longer than the allowed duration."""


class NoSpeechError(AudioError):
    """Silence, or sound that is not a voice (music, tones, noise)."""


def _ffmpeg_decode(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", str(max_seconds + 1)]
    cmd += ["-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise UnreadableAudioError("could not decode the file: not a readable audio file, or an incomplete one")
    return np.frombuffer(proc.stdout, dtype="<f4").copy()


def decode(path: str | os.PathLike, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """Read a file as float32 samples (frames x channels or mono) and its sample rate.

    wav, flac, ogg/opus and mp3 go through soundfile; other containers through ffmpeg when installed.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableAudioError("no such file")
    if path.stat().st_size == 0:
        raise UnreadableAudioError("the file is empty")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        info = None
    if info is not None:
        if info.duration > max_seconds:
            raise TooLongError(f"{info.duration:.0f} s is too long (the limit is {max_seconds:.0f} s)")
        try:
            samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
            return samples, rate
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise UnreadableAudioError(f"could not decode the file ({exc})") from None
    if shutil.which("ffmpeg"):
        return _ffmpeg_decode(path, SAMPLE_RATE, max_seconds), SAMPLE_RATE
    if path.suffix.lower() in FFMPEG_FORMATS:
        raise UnsupportedFormatError(
            f"unsupported format '{path.suffix}'; convert it to wav (or install ffmpeg)"
        )
    raise UnreadableAudioError(
        "could not decode the file: not a readable audio file (wav, flac, ogg, opus or mp3 expected; "
        "other formats need ffmpeg)"
    )


def to_mono_float(samples: np.ndarray) -> np.ndarray:
    """Any int/float array, mono or multi-channel (either axis order), as mono float32 in [-1, 1]."""
    samples = np.asarray(samples)
    if samples.dtype.kind not in "iuf" or samples.ndim > 2:
        raise InvalidSamplesError(f"expected a 1-D or 2-D numeric array of samples, got {samples.dtype} {samples.shape}")
    if samples.dtype.kind in "iu":
        info = np.iinfo(samples.dtype)
        mid = (int(info.max) + int(info.min) + 1) / 2
        samples = (samples.astype(np.float64) - mid) / (info.max - mid)
    if samples.ndim == 2:
        channel_axis = 0 if samples.shape[0] < samples.shape[1] else 1
        samples = samples.mean(axis=channel_axis)
    samples = samples.astype(np.float32)
    if not np.isfinite(samples).all():
        raise InvalidSamplesError("the audio contains NaN or infinite samples")
    return samples


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    if rate == target_rate:
        return samples
    return AF.resample(torch.from_numpy(samples), rate, target_rate).numpy()


def frame_levels_db(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """RMS level in dBFS of 25 ms frames every 10 ms, and the hop in samples."""
    frame, hop = int(0.025 * sample_rate), int(0.010 * sample_rate)
    if len(samples) < frame:
        samples = np.pad(samples, (0, frame - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, frame)[::hop]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-10), hop


def trim_to_speech(samples: np.ndarray, sample_rate: int, margin: float = 0.1) -> np.ndarray:
    """Check there is enough sound and cut leading and trailing silence."""
    duration = len(samples) / sample_rate
    if duration < MIN_SPEECH_SECONDS:
        raise TooShortError(f"the recording is {duration:.2f} s long; at least {MIN_SPEECH_SECONDS} s of speech is needed")
    levels, hop = frame_levels_db(samples, sample_rate)
    peak = float(levels.max())
    if peak < SILENCE_DBFS:
        raise NoSpeechError("no speech found: the recording is silent (check the microphone)")
    active = np.flatnonzero(levels > peak - SPEECH_RANGE_DB)
    voiced_seconds = len(active) * hop / sample_rate
    if voiced_seconds < MIN_SPEECH_SECONDS:
        raise TooShortError(
            f"only {voiced_seconds:.2f} s of sound found; at least {MIN_SPEECH_SECONDS} s of speech is needed"
        )
    low, high = np.percentile(levels[active[0] : active[-1] + 1], [10, 90])
    if voiced_seconds >= 1.0 and high - low < MIN_MODULATION_DB:  # a single short word can be one steady vowel
        raise NoSpeechError("no speech found: the sound is steady (noise or a tone), not speech")
    pad = int(margin * sample_rate)
    start = max(0, active[0] * hop - pad)
    end = min(len(samples), active[-1] * hop + int(0.025 * sample_rate) + pad)
    return samples[start:end]


def check_speech(samples: np.ndarray, sample_rate: int) -> None:
    """Raise `NoSpeechError` unless a voice-activity detector hears speech in a good share of the sound.

    Music can sound like a voice for a moment, so a few voiced chunks are not enough: at least
    `MIN_SPEECH_SHARE` of the (trimmed) recording, and never less than `MIN_VOICED_SECONDS`.
    """
    from .vad import speech_seconds

    needed = max(MIN_VOICED_SECONDS, MIN_SPEECH_SHARE * len(samples) / sample_rate)
    if speech_seconds(samples, sample_rate, enough=needed) < needed:
        raise NoSpeechError("no speech found: this sounds like music, a tone or noise, not a voice")


def load_audio(
    source: str | os.PathLike | np.ndarray | torch.Tensor,
    sample_rate: int | None = None,
    target_rate: int = SAMPLE_RATE,
    max_seconds: float = MAX_SECONDS,
    require_speech: bool = True,
) -> np.ndarray:
    """A file path or sample array as mono float32 speech at `target_rate`, silence trimmed.

    Raises an `AudioError` subclass with a readable message for anything that cannot be classified.
    `require_speech=False` skips the voice-activity check (training data is known to be speech).
    """
    if isinstance(source, (str, os.PathLike)):
        samples, rate = decode(source, max_seconds)
    else:
        if sample_rate is None:
            raise InvalidSamplesError("sample_rate is required when passing an array of samples")
        samples = source.detach().cpu().numpy() if isinstance(source, torch.Tensor) else source
        rate = int(sample_rate)
    if rate < MIN_SAMPLE_RATE:
        raise InvalidSamplesError(f"sample rate {rate} Hz is too low; at least {MIN_SAMPLE_RATE} Hz is needed")
    samples = to_mono_float(samples)
    if samples.size == 0:
        raise TooShortError("the recording contains no samples")
    samples = samples - samples.mean()  # a DC offset would read as loudness in the level checks
    if len(samples) / rate > max_seconds:
        raise TooLongError(f"{len(samples) / rate:.0f} s is too long (the limit is {max_seconds:.0f} s)")
    samples = trim_to_speech(resample(samples, rate, target_rate), target_rate)
    if require_speech:
        check_speech(samples, target_rate)
    return samples
