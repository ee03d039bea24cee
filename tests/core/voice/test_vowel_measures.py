"""Sustained-vowel measures: real recordings land in the UCI Parkinsons ranges, synthetic vowels
recover their known F0 and rank their jitter and shimmer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.analysis import analyze_recording
from core.config import DATASETS_DIR
from core.voice import vowel
from tests.fixtures.voice.synth import synthetic_vowel, write_audio

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "voice"
REAL_VOWELS = sorted(FIXTURES.glob("*_sample__AH_*.wav"))
UCI_TABLE = DATASETS_DIR / "voice" / "uci_parkinsons" / "parkinsons.data"


@pytest.fixture(scope="module")
def uci() -> pd.DataFrame:
    return pd.read_csv(UCI_TABLE)


@pytest.fixture(scope="module")
def real_results():
    return {p.name[:2] + p.name[-8:-4]: analyze_recording(p, "vowel") for p in REAL_VOWELS}


def test_four_real_recordings_are_present():
    assert len(REAL_VOWELS) == 4
    assert sum(p.name.startswith("PD_") for p in REAL_VOWELS) == 2


@pytest.mark.slow
def test_real_recordings_pass_quality(real_results):
    for name, result in real_results.items():
        assert result.quality.ok, (name, result.quality.problems)
        assert len(result.measures) == len(vowel.MEASURES)
        assert result.signal["sample_rate"] == 16000 and result.signal["voiced_intervals"]


# Measures compared with the range of the UCI table, widened where the recording set differs:
# F0: the UCI speakers' mean F0 spans 88-260 Hz, one real PD speaker here (female) has ~295 Hz,
# so F0 gets 30% margin; perturbation and noise measures get 50% of the UCI span (Praat is not
# MDVP); nonlinear measures 10% of the span. DFA and spread1 are known not to match: spread1's
# definition is not published, and DFA's analysis rate for the UCI table is not known (see
# core/voice/nonlinear.py). Here they are checked for being finite and correctly signed only;
# test_real_dfa_and_spread1_fall_in_uci_ranges records the gap and fails once it is closed.
IN_UCI_RANGE = {
    "f0_mean_hz": 0.3, "f0_max_hz": 0.3, "f0_min_hz": 0.3,
    "jitter_local_pct": 0.5, "jitter_abs_s": 0.5, "jitter_rap": 0.5, "jitter_ppq5": 0.5, "jitter_ddp": 0.5,
    "shimmer_local": 0.5, "shimmer_db": 0.5, "shimmer_apq3": 0.5, "shimmer_apq5": 0.5,
    "shimmer_apq11": 0.5, "shimmer_dda": 0.5, "nhr": 0.5, "hnr_db": 0.5,
    "rpde": 0.1, "d2": 0.1, "spread2": 0.1, "ppe": 0.1,
}


@pytest.mark.slow
def test_real_measures_fall_in_uci_ranges(real_results, uci):
    for name, result in real_results.items():
        features = vowel.uci_features(result.measures)
        assert set(features) == set(uci.columns) - {"name", "status"}
        for measure, margin in IN_UCI_RANGE.items():
            column = vowel.UCI_COLUMNS[measure]
            lo, hi = uci[column].min(), uci[column].max()
            pad = margin * (hi - lo) if column not in ("MDVP:Fo(Hz)", "MDVP:Fhi(Hz)", "MDVP:Flo(Hz)") else margin * hi
            value = features[column]
            assert lo - pad <= value <= hi + pad, f"{name} {column}={value:.5g} outside UCI {lo:.5g}..{hi:.5g}"
        assert 0 < features["DFA"] < 1 and features["spread1"] < 0


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known Praat/pdlens-vs-UCI transfer gap: spread1 is below the UCI "
                   "minimum on all four real vowels (definition unpublished) and DFA partly below it")
def test_real_dfa_and_spread1_fall_in_uci_ranges(real_results, uci):
    """When this passes (strict xfail turns it into a failure), move DFA and spread1 into
    IN_UCI_RANGE above and remove this test."""
    for name, result in real_results.items():
        features = vowel.uci_features(result.measures)
        for column in ("DFA", "spread1"):
            lo, hi = uci[column].min(), uci[column].max()
            assert lo <= features[column] <= hi, f"{name} {column}={features[column]:.4g} outside UCI {lo:.4g}..{hi:.4g}"


def test_uci_features_convert_jitter_percent_to_the_table_fraction():
    features = vowel.uci_features({"jitter_local_pct": 0.784, "hnr_db": 21.0})
    assert features == {"MDVP:Jitter(%)": pytest.approx(0.00784), "HNR": 21.0}


@pytest.mark.parametrize("f0", [95.0, 150.0, 230.0])
def test_synthetic_vowel_f0_recovered_within_2_percent(f0):
    result = vowel.analyze_samples(synthetic_vowel(f0=f0, seconds=4.0, jitter=0.003, seed=5), 16000)
    assert result.quality.ok, result.quality.problems
    assert result.measure("f0_mean_hz").value == pytest.approx(f0, rel=0.02)
    assert result.measure("f0_min_hz").value <= result.measure("f0_mean_hz").value <= result.measure("f0_max_hz").value


def _measures(**kw) -> dict[str, float]:
    return vowel.analyze_samples(synthetic_vowel(f0=120.0, seconds=3.5, seed=11, **kw), 16000).measure_values()


@pytest.mark.slow
def test_increasing_jitter_ranks_jitter_measures():
    runs = [_measures(jitter=j) for j in (0.0, 0.004, 0.012, 0.03)]
    for name in ("jitter_local_pct", "jitter_abs_s", "jitter_rap", "jitter_ppq5", "jitter_ddp"):
        values = [r[name] for r in runs]
        assert values == sorted(values) and values[0] < values[-1], (name, values)
    # a jitter SD of 1.2% per cycle gives mean |dT|/T of about 2/sqrt(pi) * 1.2% = 1.35% (local jitter)
    assert runs[2]["jitter_local_pct"] == pytest.approx(1.35, rel=0.3)


@pytest.mark.slow
def test_increasing_shimmer_ranks_shimmer_measures_and_leaves_jitter_low():
    runs = [_measures(shimmer=s) for s in (0.0, 0.02, 0.06, 0.15)]
    for name in ("shimmer_local", "shimmer_db", "shimmer_apq3", "shimmer_apq5", "shimmer_apq11", "shimmer_dda"):
        values = [r[name] for r in runs]
        assert values == sorted(values) and values[0] < values[-1], (name, values)
    assert max(r["jitter_local_pct"] for r in runs) < 0.5


def test_pitch_measures_rise_with_pitch_instability():
    steady, unsteady = _measures(jitter=0.002), _measures(jitter=0.02)
    for name in ("ppe", "spread1", "spread2", "rpde"):
        assert unsteady[name] > steady[name], name


def test_analyze_uses_the_stable_middle_of_the_vowel(tmp_path):
    """1 s of silence, a 4 s vowel, 1 s of silence: measures come from inside the vowel."""
    sr = 16000
    quiet = 1e-4 * np.random.default_rng(0).standard_normal(sr).astype(np.float32)
    x = np.concatenate([quiet, synthetic_vowel(f0=180.0, seconds=4.0, seed=2), quiet])
    result = vowel.analyze(write_audio(tmp_path / "vowel.flac", x, sr, "flac"))
    start, end = result.signal["stable_interval"]
    assert 1.3 < start < 1.6 and 4.4 < end < 4.7
    assert result.measure("f0_mean_hz").value == pytest.approx(180.0, rel=0.02)
