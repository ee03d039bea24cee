"""Finger-tapping features on synthetic landmark series with known truth."""
import numpy as np
import pandas as pd
import pytest

from core.config import DATASETS_DIR
from core.movement.finger_tapping import (DATASET_CSV, NotEnoughTaps, decrement_percent, tapping_features,
                                          tapping_measures)
from tests.fixtures.movement.synthetic import IMAGE_SIZE, tapping_series


def _measures(**kwargs):
    times, landmarks, _ = tapping_series(**kwargs)
    features, signal = tapping_features(times, landmarks, IMAGE_SIZE, return_signal=True)
    return features, {m.name: m for m in tapping_measures(features, signal)}


@pytest.mark.parametrize("jitter", [False, True])
def test_rate_decrement_and_freeze_recovered(jitter):
    features, m = _measures(rate_hz=3.0, decrement=0.4, pause=(4.0, 5.0), jitter_fps=jitter)
    assert m["tap_frequency"].value == pytest.approx(3.0, rel=0.05)
    assert m["amplitude_decrement_pct"].value == pytest.approx(40.0, abs=4.0)
    assert m["freezes"].value >= 1 and m["interruptions"].value >= 1
    assert m["longest_freeze"].value == pytest.approx(1.0, abs=0.15)
    # 9 s of tapping at 3 Hz
    assert 25 <= m["tap_count"].value <= 29


def test_steady_tapping_has_no_freeze_and_no_decrement():
    features, m = _measures(rate_hz=2.0, decrement=0.0, pause=None)
    assert m["tap_frequency"].value == pytest.approx(2.0, rel=0.05)
    assert abs(m["amplitude_decrement_pct"].value) < 2.0
    assert m["freezes"].value == 0 and m["interruptions"].value == 0
    assert features["amplitude_mean_denoised"] == pytest.approx(60.0, abs=1.0)


def test_feature_names_are_the_table_columns():
    table = pd.read_csv(DATASETS_DIR / DATASET_CSV, nrows=1)
    columns = list(table.columns[1:table.columns.get_loc("hand")])
    times, landmarks, _ = tapping_series()
    features = tapping_features(times, landmarks, IMAGE_SIZE)
    assert sorted(features) == sorted(columns)
    assert all(np.isfinite(v) for v in features.values())


def test_short_detection_gaps_are_interpolated_long_ones_cut():
    times, landmarks, _ = tapping_series(pause=None, decrement=0.0)
    gappy = landmarks.copy()
    gappy[100:102] = np.nan  # 2 frames: filled
    f_short = tapping_features(times, gappy, IMAGE_SIZE)
    assert f_short["num_peaks_denoised"] >= 28
    gappy[150:170] = np.nan  # 20 frames: the longest valid run is kept
    f_long = tapping_features(times, gappy, IMAGE_SIZE)
    assert f_long["num_peaks_denoised"] < f_short["num_peaks_denoised"]


def test_no_tapping_raises_not_enough_taps():
    times, landmarks, _ = tapping_series(rate_hz=3.0, pause=(0.0, 10.0))
    with pytest.raises(NotEnoughTaps):
        tapping_features(times, landmarks, IMAGE_SIZE)


def test_decrement_percent_is_first_to_last_of_a_line_fit():
    assert decrement_percent(np.linspace(50, 30, 10)) == pytest.approx(40.0)
    assert decrement_percent(np.full(8, 40.0)) == pytest.approx(0.0)
