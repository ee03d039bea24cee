"""Rest tremor measures on synthetic landmark series with known truth."""
import numpy as np
import pytest

from core.movement.tremor import ASSUMED_HAND_LENGTH_CM, hand_length_px, tremor_features, tremor_measures
from tests.fixtures.movement.synthetic import IMAGE_SIZE, _hand, tremor_series

HAND_PX = hand_length_px(_hand(20.0)[None])


@pytest.mark.parametrize("freq", [4.3, 5.0, 6.6])
def test_frequency_and_amplitude_recovered(freq):
    times, landmarks, _ = tremor_series(freq_hz=freq, amplitude_px=6.0)
    f = tremor_features(times, landmarks, IMAGE_SIZE)
    assert f["frequency_hz"] == pytest.approx(freq, abs=0.2)
    # a sinusoid of peak 6 px has RMS 6/sqrt(2) px
    assert f["rms_hand_lengths"] * HAND_PX == pytest.approx(6.0 / np.sqrt(2), rel=0.10)
    # peak to peak 12 px, sampled at 30 fps (samples miss the exact crest: allow 15%)
    assert f["peak_to_peak_hand_lengths"] * HAND_PX == pytest.approx(12.0, rel=0.15)
    assert f["band_power_fraction"] > 0.9 and f["constancy"] == 1.0


def test_still_hand_has_no_constant_tremor():
    times, landmarks, _ = tremor_series(amplitude_px=0.0, noise_px=0.3)
    f = tremor_features(times, landmarks, IMAGE_SIZE)
    assert f["constancy"] == 0.0
    assert f["rms_hand_lengths"] < 0.005


def test_measures_carry_units_and_cm_estimate():
    times, landmarks, _ = tremor_series(freq_hz=5.0, amplitude_px=6.0)
    f = tremor_features(times, landmarks, IMAGE_SIZE)
    m = {x.name: x for x in tremor_measures(f)}
    assert m["tremor_frequency"].unit == "Hz"
    cm = m["tremor_amplitude_p2p_cm_estimate"]
    assert "ESTIMATE" in cm.description
    assert cm.value == pytest.approx(f["peak_to_peak_hand_lengths"] * ASSUMED_HAND_LENGTH_CM)
