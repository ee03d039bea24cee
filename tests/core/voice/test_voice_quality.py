"""Bad voice clips get a clear reason and no score (all clips synthetic, generated here)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.analysis import analyze_recording
from core.cli import EXIT_QUALITY, EXIT_UNUSABLE, main
from core.pipeline import UnusableInput
from tests.fixtures.voice.synth import synthetic_vowel, write_audio

SR = 16000


def _write(tmp_path: Path, x: np.ndarray, name: str = "clip.wav", sr: int = SR, kind: str = "wav_float") -> Path:
    return write_audio(tmp_path / name, np.asarray(x, np.float32), sr, kind, channels=1)


def _failed(result) -> dict[str, str]:
    assert result.score is None
    assert not result.quality.ok
    return {c.name: c.message for c in result.quality.checks if not c.passed}


def test_short_clip_fails_duration(tmp_path):
    failed = _failed(analyze_recording(_write(tmp_path, synthetic_vowel(seconds=0.2)), "vowel"))
    assert "for at least 1.5 s" in failed["duration"]


def test_ten_minute_clip_fails_duration_without_analysis(tmp_path):
    """10 min of synthetic silence at 8 kHz (about 10 MB of float wav): decoded within the limit,
    refused as too long for the task without running Praat on it."""
    path = write_audio(tmp_path / "long.wav", np.zeros(8000 * 600, np.float32), 8000, "wav_float_8k", channels=1)
    result = analyze_recording(path, "vowel")
    failed = _failed(result)
    assert set(failed) == {"duration"} and "too long" in failed["duration"]
    assert result.measures == []


def test_pure_silence_fails_silence_check(tmp_path):
    failed = _failed(analyze_recording(_write(tmp_path, np.zeros(4 * SR)), "vowel"))
    assert "silent" in failed["silence"] and "microphone" in failed["silence"]


def test_white_noise_is_not_a_voice(tmp_path):
    noise = 0.1 * np.random.default_rng(0).standard_normal(4 * SR)
    failed = _failed(analyze_recording(_write(tmp_path, noise), "vowel"))
    assert "is noise" in failed["noise_like"] and "flatness" not in failed["noise_like"]
    assert "voiced_fraction" in failed


def test_clipped_recording_fails_clipping(tmp_path):
    clipped = np.clip(4 * synthetic_vowel(seconds=4.0, peak=0.5), -1, 1)
    failed = _failed(analyze_recording(_write(tmp_path, clipped), "vowel"))
    assert "lower the input gain" in failed["clipping"]


def test_noisy_room_fails_snr(tmp_path):
    """A vowel with a pause before it and loud background noise (20 dB below the voice)."""
    rng = np.random.default_rng(1)
    x = np.concatenate([np.zeros(SR // 2, np.float32), synthetic_vowel(seconds=4.0, noise_db=None), np.zeros(SR // 2, np.float32)])
    x = x + 0.02 * rng.standard_normal(x.size)
    failed = _failed(analyze_recording(_write(tmp_path, x), "vowel"))
    assert "quieter room" in failed["snr"]


def test_several_short_phonations_are_not_one_sustained_vowel(tmp_path):
    gap = np.zeros(int(0.4 * SR), np.float32)
    x = np.concatenate([synthetic_vowel(seconds=1.2, seed=1), gap, synthetic_vowel(seconds=1.2, seed=2), gap,
                        synthetic_vowel(seconds=1.2, seed=3)])
    failed = _failed(analyze_recording(_write(tmp_path, x), "vowel"))
    assert "one breath" in failed["sustained_phonation"] or "several" in failed["sustained_phonation"]


def test_clean_synthetic_vowel_passes_every_check(tmp_path):
    result = analyze_recording(_write(tmp_path, synthetic_vowel(seconds=4.0)), "vowel")
    assert result.quality.ok, result.quality.problems
    assert {c.name for c in result.quality.checks} == {
        "duration", "silence", "clipping", "noise_like", "voiced_fraction", "snr", "sustained_phonation",
        "bandwidth", "glottal_cycles"}


def test_unusable_files_raise_with_one_line_reason(tmp_path):
    text = tmp_path / "letter.wav"
    text.write_text("not audio at all\n")
    with pytest.raises(UnusableInput) as exc:
        analyze_recording(text, "vowel")
    assert "\n" not in str(exc.value)


def test_cli_exit_codes_for_bad_voice_input(tmp_path, capsys):
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    assert main(["analyze", "--voice", str(empty), "--json"]) == EXIT_UNUSABLE
    assert "empty" in capsys.readouterr().err
    silence = _write(tmp_path, np.zeros(4 * SR), "silence.wav")
    assert main(["analyze", "--voice", str(silence), "--json"]) == EXIT_QUALITY
    out = capsys.readouterr()
    assert '"score": null' in out.out and "silent" in out.err
