"""Real phone vowels as published (Iyer et al. 2023: 8 kHz float WAV, trimmed to 1.5-7 s): the
gates test what the vowel needs (enough steady glottal cycles, voice not noise), not seconds, and
every clip records whether it is phone-band."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from core.analysis import analyze_recording
from core.config import MODELS_DIR
from core.voice import quality, vowel
from tests.fixtures.voice.synth import synthetic_vowel

ORIGINALS = MODELS_DIR / "datasets" / "voice" / "iyer2023_vowels_originals"
LABELS = list(csv.DictReader((ORIGINALS / "labels.csv").open()))
JARGON = ("dBFS", "flatness", ".wav", "-200")


def _plain(message: str) -> None:
    assert not any(word in message for word in JARGON), message


def _shortest_original() -> Path:
    import soundfile as sf

    return min((ORIGINALS / r["file"] for r in LABELS), key=lambda p: sf.info(str(p)).duration)


def test_a_real_vowel_under_3_s_is_measured_with_a_caution():
    clip = _shortest_original()
    result = analyze_recording(clip, "vowel")
    assert result.duration_s < 3.0
    assert result.quality.ok and result.measures
    sustained = next(c for c in result.quality.checks if c.name == "sustained_phonation")
    assert sustained.passed and "less stable" in sustained.message
    assert result.measure("jitter_local_pct").value > 0 and result.measure("hnr_db") is not None


def test_real_8_khz_originals_are_marked_phone_band():
    result = analyze_recording(ORIGINALS / LABELS[0]["file"], "vowel")
    band = next(c for c in result.quality.checks if c.name == "bandwidth")
    assert band.passed and result.signal["phone_band"] and result.signal["source_sample_rate"] == 8000
    assert result.signal["bandwidth_hz"] < quality.PHONE_BAND_MAX_BANDWIDTH_HZ
    assert "harmonics-to-noise" in band.message and "shimmer" in band.message
    _plain(band.message)


def test_a_full_band_microphone_vowel_is_not_phone_band():
    samples = synthetic_vowel(f0=120.0, seconds=4.0, sr=16000, jitter=0.004, shimmer=0.03, noise_db=-45.0)
    result = vowel.analyze_samples(samples.astype(np.float32), 16000, source_rate=44100)
    assert result.signal["bandwidth_hz"] > 6000 and not result.signal["phone_band"]


def test_too_short_a_phonation_is_refused_in_plain_words():
    samples = synthetic_vowel(f0=120.0, seconds=0.8, sr=16000)
    padded = np.concatenate([np.zeros(8000), samples, np.zeros(8000)]).astype(np.float32)
    result = vowel.analyze_samples(padded, 16000)
    assert not result.quality.ok and result.score is None
    for message in result.quality.problems:
        _plain(message)
    assert any("too short" in m for m in result.quality.problems)


def test_noise_and_silence_are_refused_in_plain_words():
    rng = np.random.default_rng(0)
    noise = vowel.analyze_samples((0.3 * rng.standard_normal(48000)).astype(np.float32), 16000)
    silence = vowel.analyze_samples(np.zeros(48000, np.float32), 16000)
    for result in (noise, silence):
        assert not result.quality.ok and not result.measures
        for message in result.quality.problems:
            _plain(message)
    assert any("noise" in m for m in noise.quality.problems)
    assert any("silent" in m for m in silence.quality.problems)


def test_too_few_glottal_cycles_are_refused():
    check = vowel.glottal_cycles_check(vowel.MIN_GLOTTAL_CYCLES - 1)
    assert not check.passed and "steady voice cycles" in check.message
    assert vowel.glottal_cycles_check(vowel.MIN_GLOTTAL_CYCLES).passed
    assert quality.MIN_PHONATION_S < 1.5  # a trimmed 1.5 s vowel keeps its stable middle


@pytest.mark.slow
def test_at_least_38_of_the_40_real_phone_vowels_are_measured():
    measured = 0
    for row in LABELS:
        result = analyze_recording(ORIGINALS / row["file"], "vowel")
        measured += bool(result.quality.ok and result.measures)
        for message in result.quality.problems:
            _plain(message)
    assert len(LABELS) == 40 and measured >= 38
