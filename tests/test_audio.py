import shutil

import numpy as np
import pytest
import soundfile as sf

from agegender import audio
from agegender.audio import (
    AudioError,
    InvalidSamplesError,
    NoSpeechError,
    TooLongError,
    TooShortError,
    UnreadableAudioError,
    UnsupportedFormatError,
    load_audio,
)
from synth import voice
from training.negatives import NEGATIVES


def hummed_tone(seconds: float, rate: int) -> np.ndarray:
    """A 440 Hz tone with syllable-like loudness changes: easy to check for pitch, but not a voice."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()]


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resamples_to_model_rate_keeping_pitch(rate):
    out = load_audio(hummed_tone(3.0, rate), rate, require_speech=False)
    assert out.dtype == np.float32
    assert abs(len(out) - 3 * 16000) <= 0.1 * 16000  # a little trimming at the edges at most
    assert abs(dominant_frequency(out, 16000) - 440) < 3


@pytest.mark.parametrize("shape", ["frames_channels", "channels_frames"])
def test_stereo_arrays_are_downmixed(shape):
    left = voice(2.0)
    stereo = np.stack([left, 0.5 * left], axis=1 if shape == "frames_channels" else 0)
    out = load_audio(stereo, 16000)
    np.testing.assert_allclose(out, load_audio(0.75 * left, 16000), atol=1e-6)


def test_stereo_file_is_downmixed(make_wav):
    out = load_audio(make_wav("stereo.wav", channels=2, rate=44100))
    assert out.ndim == 1 and 2.5 * 16000 < len(out) <= 3.0 * 16000


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8, np.float64])
def test_integer_and_float_dtypes_are_scaled(dtype):
    x = voice(2.0)
    if np.dtype(dtype).kind == "f":
        raw = x.astype(dtype)
    else:
        info = np.iinfo(dtype)
        mid = (int(info.max) + int(info.min) + 1) / 2
        raw = np.round(x * (info.max - mid) + mid).astype(dtype)
    out = load_audio(raw, 16000)
    reference = load_audio(x, 16000)
    assert len(out) == len(reference)
    np.testing.assert_allclose(out, reference, atol=0.02)


@pytest.mark.parametrize("name,fmt,subtype", [
    ("a.wav", "WAV", "PCM_16"),
    ("a.flac", "FLAC", "PCM_16"),
    ("a.ogg", "OGG", "VORBIS"),
    ("a.opus", "OGG", "OPUS"),
    ("a.mp3", "MP3", "MPEG_LAYER_III"),
])  # fmt: skip
def test_decodes_common_formats(tmp_path, name, fmt, subtype):
    path = tmp_path / name
    rate = 48000 if subtype == "OPUS" else 44100
    sf.write(path, hummed_tone(2.0, rate), rate, format=fmt, subtype=subtype)
    out = load_audio(path, require_speech=False)
    assert 1.5 * 16000 < len(out) < 2.3 * 16000
    assert abs(dominant_frequency(out, 16000) - 440) < 5
    sf.write(path, voice(2.0, rate), rate, format=fmt, subtype=subtype)
    assert 1.5 * 16000 < len(load_audio(path)) < 2.3 * 16000  # speech passes the voice check after the codec


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (apt-get install ffmpeg to test m4a input)")
def test_m4a_goes_through_ffmpeg(tmp_path, make_wav):
    import subprocess

    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(make_wav()), str(m4a)], check=True)
    assert abs(len(load_audio(m4a)) - 3 * 16000) < 0.3 * 16000


def test_m4a_without_ffmpeg_asks_for_wav(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    path = tmp_path / "voice.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    with pytest.raises(UnsupportedFormatError, match="convert it to wav"):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableAudioError, match="no such file"):
        load_audio(tmp_path / "nothing.wav")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(UnreadableAudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")


def test_corrupt_file(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"RIFF this is not really audio" * 50)
    with pytest.raises(UnreadableAudioError):
        load_audio(tmp_path / "junk.wav")


@pytest.mark.parametrize("ffmpeg", [False, True])
def test_corrupt_file_message_does_not_depend_on_ffmpeg(tmp_path, monkeypatch, ffmpeg):
    if ffmpeg and shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg to test its decoding path)")
    if not ffmpeg:
        monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    (tmp_path / "junk.wav").write_bytes(b"RIFF this is not really audio" * 50)
    with pytest.raises(UnreadableAudioError, match="^could not decode the file: not a readable audio file"):
        load_audio(tmp_path / "junk.wav")


def test_text_file_without_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnreadableAudioError, match="not a readable audio file"):
        load_audio(tmp_path / "notes.txt")


def test_zero_samples():
    with pytest.raises(TooShortError, match="no samples"):
        load_audio(np.zeros(0, dtype=np.float32), 16000)


def test_very_short_audio():
    with pytest.raises(TooShortError, match="0.20 s"):
        load_audio(voice(0.2), 16000)


def test_short_burst_in_long_silence():
    x = np.zeros(16000 * 3, dtype=np.float32)
    x[16000 : 16000 + 3200] = voice(0.2)
    with pytest.raises(TooShortError, match="of sound found"):
        load_audio(x, 16000)


@pytest.mark.parametrize("seconds", [0.3, 0.45])
def test_one_word_is_accepted(seconds):
    """A single spoken word (0.25-0.5 s of sound) in a longer recording is classified, not refused."""
    x = np.zeros(16000 * 2, dtype=np.float32)
    x[8000 : 8000 + int(seconds * 16000)] = voice(seconds, seed=3)
    out = load_audio(x, 16000)
    assert seconds * 16000 <= len(out) <= (seconds + 0.25) * 16000


def test_dc_offset_is_removed_before_the_level_checks():
    x = voice(2.0) * 0.05 + 0.1  # quiet speech on a DC offset of 0.1
    out = load_audio(x, 16000)
    assert abs(out.mean()) < 1e-3
    np.testing.assert_allclose(out, load_audio(voice(2.0) * 0.05, 16000), atol=1e-5)


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_sound_that_is_not_speech_is_refused(kind):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        with pytest.raises(NoSpeechError, match="no speech found"):
            load_audio(NEGATIVES[kind](rng, 3.0, 16000), 16000)


def test_voice_check_can_be_skipped_for_known_speech():
    x = hummed_tone(2.0, 16000)
    with pytest.raises(NoSpeechError, match="music, a tone or noise"):
        load_audio(x, 16000)
    assert len(load_audio(x, 16000, require_speech=False)) > 1.5 * 16000


def test_voice_check_model_is_reused_by_other_threads(monkeypatch):
    """A loaded VAD model serves the next call from any thread (a server's first request in a new worker)."""
    import threading

    import silero_vad

    from agegender.vad import speech_seconds

    samples = voice(1.0)
    assert speech_seconds(samples, 16000) > 0.5  # a model is loaded and idle now
    monkeypatch.setattr(silero_vad, "load_silero_vad", lambda: pytest.fail("a second model was loaded"))
    found = []
    thread = threading.Thread(target=lambda: found.append(speech_seconds(samples, 16000)))
    thread.start()
    thread.join()
    assert found and found[0] > 0.5


def test_silence():
    with pytest.raises(NoSpeechError, match="silent"):
        load_audio(np.zeros(16000 * 2, dtype=np.float32), 16000)


@pytest.mark.parametrize("kind", ["noise", "tone"])
def test_steady_sound_is_not_speech(kind):
    t = np.arange(3 * 16000) / 16000
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(len(t)) if kind == "noise" else 0.3 * np.sin(2 * np.pi * 220 * t)
    with pytest.raises(NoSpeechError, match="steady"):
        load_audio(x.astype(np.float32), 16000)


def test_silent_file(tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(32000, dtype=np.int16), 16000)
    with pytest.raises(NoSpeechError):
        load_audio(tmp_path / "quiet.wav")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(bad):
    x = voice(2.0)
    x[100] = bad
    with pytest.raises(InvalidSamplesError, match="NaN or infinite"):
        load_audio(x, 16000)


def test_absurd_duration_array():
    with pytest.raises(TooLongError, match="too long"):
        load_audio(np.zeros(16000 * 11, dtype=np.float32), 16000, max_seconds=10)


def test_absurd_duration_file_is_refused_before_decoding(tmp_path, monkeypatch):
    sf.write(tmp_path / "long.wav", np.zeros(8000 * 20, dtype=np.int16), 8000)
    monkeypatch.setattr(audio.sf, "read", lambda *a, **k: pytest.fail("decoded a file it should refuse"))
    with pytest.raises(TooLongError, match="limit is 10 s"):
        load_audio(tmp_path / "long.wav", max_seconds=10)


def test_low_sample_rate():
    with pytest.raises(InvalidSamplesError, match="too low"):
        load_audio(voice(2.0, 4000), 4000)


def test_array_needs_sample_rate():
    with pytest.raises(InvalidSamplesError, match="sample_rate is required"):
        load_audio(voice(2.0))


def test_trims_leading_and_trailing_silence():
    x = np.concatenate([np.zeros(16000), voice(2.0), np.zeros(16000)]).astype(np.float32)
    out = load_audio(x, 16000)
    assert 2.0 * 16000 <= len(out) <= 2.3 * 16000


def test_all_errors_are_audio_errors():
    for cls in (InvalidSamplesError, NoSpeechError, TooLongError, TooShortError, UnreadableAudioError,
                UnsupportedFormatError):  # fmt: skip
        assert issubclass(cls, AudioError) and issubclass(cls, ValueError)
