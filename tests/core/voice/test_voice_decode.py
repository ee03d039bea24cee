"""Decoding every clinic/browser format, and refusing what cannot be analysed (synthetic clips)."""
from __future__ import annotations

import numpy as np
import pytest

from core.media.audio import SAMPLE_RATE, load_audio, probe_media
from core.pipeline import UnusableInput
from core.voice.praat import pitch_cc, to_sound
from tests.fixtures.voice.synth import FORMATS, synthetic_vowel, write_audio, write_video

F0 = 140.0
SECONDS = 2.0


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    """Synthetic vowel, 2 s at 16 kHz, known F0."""
    return synthetic_vowel(f0=F0, seconds=SECONDS, seed=3)


def _median_f0(samples: np.ndarray) -> float:
    f0 = pitch_cc(to_sound(samples, SAMPLE_RATE)).selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_every_audio_format_decodes_to_16k_mono_and_keeps_pitch(kind, source, tmp_path):
    path = write_audio(tmp_path / f"clip.{FORMATS[kind][2]}", source, SAMPLE_RATE, kind)
    samples, sr = load_audio(path)
    assert sr == 16000 and samples.ndim == 1 and samples.dtype == np.float32
    assert abs(samples.size / sr - SECONDS) < 0.1  # encoder padding (aac, opus) stays small
    assert abs(_median_f0(samples) / F0 - 1) < 0.03


@pytest.mark.parametrize("container", ["mp4", "mov"])
def test_sound_track_of_a_video_decodes(container, source, tmp_path):
    path = write_video(tmp_path / f"clip.{container}", source, SAMPLE_RATE, SECONDS, container)
    info = probe_media(path)
    assert info.has_audio and info.has_video
    assert {s.kind for s in info.streams} == {"audio", "video"}
    samples, sr = load_audio(path)
    assert abs(samples.size / sr - SECONDS) < 0.1
    assert abs(_median_f0(samples) / F0 - 1) < 0.03


def test_probe_reports_format_duration_and_stream_details(source, tmp_path):
    path = write_audio(tmp_path / "clip.flac", source, SAMPLE_RATE, "flac", channels=2)
    info = probe_media(path)
    assert info.format_name == "flac"
    assert info.duration_s == pytest.approx(SECONDS, abs=0.05)
    (audio,) = info.streams
    assert (audio.kind, audio.codec, audio.sample_rate, audio.channels) == ("audio", "flac", 44100, 2)
    assert info.as_dict()["streams"][0]["sample_rate"] == 44100


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(UnusableInput, match="empty"):
        load_audio(path)


def test_text_renamed_wav_is_refused(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("Patient said aaah for five seconds.\n" * 20)
    with pytest.raises(UnusableInput, match="not an audio or video recording"):
        load_audio(path)


def test_truncated_mp3_is_refused(source, tmp_path):
    full = write_audio(tmp_path / "full.mp3", synthetic_vowel(seconds=5.0), SAMPLE_RATE, "mp3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(UnusableInput, match="incomplete"):
        load_audio(cut)


def test_video_without_sound_track_is_refused(tmp_path):
    path = write_video(tmp_path / "silent_film.mp4", None, SAMPLE_RATE, 1.0)
    with pytest.raises(UnusableInput, match="no sound track"):
        load_audio(path)


def test_file_declared_longer_than_limit_is_refused_before_decoding(tmp_path):
    """11 minutes of synthetic silence at 8 kHz: refused from the header, nothing decoded."""
    path = write_audio(tmp_path / "long.wav", np.zeros(8000 * 660, np.float32), 8000, "wav_float_8k", channels=1)
    with pytest.raises(UnusableInput, match="too long .*11.0 min"):
        load_audio(path)
    with pytest.raises(UnusableInput, match=r"too long \(660 s; at most 30 s"):
        load_audio(path, max_seconds=30)
