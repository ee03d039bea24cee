"""Reading-passage measures on synthetic speech-like signals with known pauses and, when
espeak-ng is installed, on synthetic (text-to-speech) speech of a short passage."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from core.analysis import analyze_recording
from core.voice import reading
from tests.fixtures.voice.synth import speech_like, write_audio

SEGMENTS = [("pause", 0.6), ("speech", 2.0), ("pause", 0.5), ("speech", 3.0), ("pause", 1.0),
            ("speech", 2.5), ("pause", 0.4), ("speech", 3.0), ("pause", 0.6)]
INNER_PAUSES = [0.5, 1.0, 0.4]
SPEECH_S = 2.0 + 3.0 + 2.5 + 3.0


def test_pauses_and_rate_recovered_on_speech_like_signal(tmp_path):
    path = write_audio(tmp_path / "reading.flac", speech_like(SEGMENTS), 16000, "flac")
    result = analyze_recording(path, "reading")
    assert result.quality.ok, result.quality.problems
    assert result.score is None  # no model for reading
    m = result.measure_values()
    expected_ratio = sum(INNER_PAUSES) / (SPEECH_S + sum(INNER_PAUSES))
    assert m["pause_ratio"] == pytest.approx(expected_ratio, abs=0.03)
    assert m["pause_count"] == len(INNER_PAUSES)  # leading and trailing silence not counted
    assert m["pause_mean_s"] == pytest.approx(np.mean(INNER_PAUSES), abs=0.08)
    assert m["articulation_rate_syl_s"] == pytest.approx(4.0, rel=0.15)  # 4 nuclei a second
    assert m["speech_rate_syl_s"] < m["articulation_rate_syl_s"]
    assert 0.5 < m["f0_sd_semitones"] < 5 and m["intensity_sd_db"] > 1


def test_short_pauses_are_not_counted():
    x = speech_like([("speech", 3.0), ("pause", 0.15), ("speech", 3.0), ("pause", 0.6), ("speech", 4.5)])
    result = reading.analyze_samples(x, 16000)
    assert result.measure("pause_count").value == 1


def test_monotone_reading_has_lower_pitch_variability():
    lively = reading.analyze_samples(speech_like(SEGMENTS, seed=1), 16000).measure("f0_sd_semitones").value
    from tests.fixtures.voice import synth
    flat = synth.synthetic_vowel(f0=120, seconds=11.0, noise_db=None)
    envelope = np.sin(np.pi * 4.0 * np.arange(flat.size) / 16000) ** 2
    monotone = reading.analyze_samples(flat * (0.05 + 0.95 * envelope).astype(np.float32), 16000)
    assert monotone.measure("f0_sd_semitones").value < 0.5 < lively


def test_reading_too_short_fails(tmp_path):
    result = reading.analyze_samples(speech_like([("speech", 4.0)]), 16000)
    assert not result.quality.ok and result.score is None
    assert "at least 10 s" in " ".join(result.quality.problems)


PASSAGE = ("When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
           "The rainbow is a division of white light into many beautiful colors. "
           "These take the shape of a long round arch, with its path high above, "
           "and its two ends apparently beyond the horizon.")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_synthetic_tts_reading_gives_plausible_measures(tmp_path):
    wav = tmp_path / "espeak_rainbow.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), PASSAGE], check=True, capture_output=True)
    result = analyze_recording(wav, "reading")
    assert result.quality.ok, result.quality.problems
    m = result.measure_values()
    # 150 words per minute of mostly one- and two-syllable words: about 3-5 syllables a second
    assert 2.5 < m["speech_rate_syl_s"] < 6.5
    assert m["articulation_rate_syl_s"] >= m["speech_rate_syl_s"]
    assert m["pause_count"] >= 2  # sentence boundaries
    assert 0 < m["pause_ratio"] < 0.4
