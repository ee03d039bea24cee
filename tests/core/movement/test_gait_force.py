"""Gait events and stride measures from force insoles: real gaitpdb recordings (public,
PhysioNet) and synthetic force curves with known timing."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import DATASETS_DIR
from core.movement.gait import (GAIT_MEASURE_INFO, STRIDE_MEASURE_NAMES, SIDES, GaitEvents,
                                events_from_force, load_force_recording, stride_measures)

FORCES = DATASETS_DIR / "movement" / "gaitpdb_forces"

# controls and patients from the three studies (Si* walked on a treadmill)
REAL_WALKS = ["GaCo01_01", "GaPt04_01", "JuCo08_01", "JuPt26_01", "SiCo06_01", "SiPt22_01"]


@pytest.mark.parametrize("name", REAL_WALKS)
def test_real_walks_give_plausible_stride_timing(name):
    t, left, right = load_force_recording(FORCES / f"{name}.txt")
    events = events_from_force(t, left, right)
    m = stride_measures(events, duration_s=float(t[-1]))
    assert set(m) == set(STRIDE_MEASURE_NAMES)
    assert 0.8 <= m["stride_time_s"] <= 1.6
    assert 80 <= m["cadence_steps_per_min"] <= 130
    assert 30 <= m["swing_fraction_pct"] <= 45
    assert m["stance_fraction_pct"] == pytest.approx(100 - m["swing_fraction_pct"])
    assert 0.5 < m["stride_time_cv_pct"] < 10
    assert m["n_strides"] > 50 * t[-1] / 120  # ~2 min walks: well over 50 strides
    assert abs(m["stride_time_left_s"] - m["stride_time_right_s"]) < 0.05
    # events alternate: between two heel strikes of one foot there is one of the other
    hs_l, hs_r = events.heel_strikes["left"], events.heel_strikes["right"]
    between = np.histogram(hs_r, bins=hs_l)[0]
    assert np.mean(between == 1) > 0.9


def _synthetic_force(stride_s, swing_left, swing_right, seconds=60.0, fs=100.0, offset=(0.0, 0.0),
                     drift=0.0, noise=5.0, seed=0):
    """Total force under each foot: a double-hump stance curve (~body weight, 700 N) for
    (1 - swing) of each stride, ~0 N in swing, right foot half a stride later. Optional constant
    sensor offset, linear baseline drift (N/s) and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fs)
    forces, truth = [], {}
    for side, swing, phase0 in (("left", swing_left, 0.3), ("right", swing_right, 0.3 + stride_s / 2)):
        stance = (1 - swing) * stride_s
        u = (t - phase0) % stride_s
        in_stance = (u < stance) & (t >= phase0)
        x = np.where(in_stance, u / stance, 0.0)
        # two humps (loading and push-off, ~1.2 body weight) with a ~30 ms loading ramp
        ramp = np.clip(np.minimum(x, 1 - x) * stance / 0.03, 0, 1)
        shape = ramp * (1 - 0.2 * np.cos(4 * np.pi * x))
        f = np.where(in_stance, 700 * shape, 0.0)
        f = f + offset[0 if side == "left" else 1] + drift * t + rng.normal(0, noise, len(t))
        forces.append(f)
        truth[side] = phase0 + stride_s * np.arange(int(seconds / stride_s) + 1)
    return t, forces[0], forces[1], truth


def test_synthetic_force_known_stride_and_swing_asymmetry():
    stride, sw_l, sw_r = 1.10, 0.40, 0.34
    t, left, right, truth = _synthetic_force(stride, sw_l, sw_r, offset=(35.0, -10.0), drift=0.8)
    events = events_from_force(t, left, right)
    m = stride_measures(events, duration_s=float(t[-1]))
    assert m["stride_time_s"] == pytest.approx(stride, rel=0.02)
    assert m["stride_time_left_s"] == pytest.approx(stride, rel=0.02)
    assert m["stride_time_right_s"] == pytest.approx(stride, rel=0.02)
    assert m["cadence_steps_per_min"] == pytest.approx(120 / stride, rel=0.02)
    assert m["swing_fraction_pct"] == pytest.approx(100 * (sw_l + sw_r) / 2, rel=0.02)
    expected_asym = 100 * abs(np.log(sw_r / sw_l))  # Plotnik's gait asymmetry on swing times
    assert m["swing_time_asymmetry_pct"] == pytest.approx(expected_asym, rel=0.10)
    # heel strikes half a stride apart: the steps are equal, whatever the swing times
    assert m["step_time_asymmetry_pct"] < 1.0
    assert m["stride_time_cv_pct"] < 1.0  # perfectly regular strides
    # heel strikes land on the true initial contacts (threshold at 8% of range: a few ms late)
    hs = events.heel_strikes["left"]
    nearest = np.min(np.abs(hs[:, None] - truth["left"][None, :]), axis=1)
    assert np.all(nearest < 0.03)
    # nothing in the first or last 2 s
    for side in SIDES:
        assert events.heel_strikes[side].min() >= 2.0
        assert events.toe_offs[side].max() <= t[-1] - 2.0


def test_symmetric_synthetic_walk_has_no_asymmetry():
    t, left, right, _ = _synthetic_force(1.0, 0.38, 0.38)
    m = stride_measures(events_from_force(t, left, right), duration_s=float(t[-1]))
    assert m["step_time_asymmetry_pct"] < 1.0
    assert m["swing_time_asymmetry_pct"] < 1.0
    assert m["swing_fraction_pct"] == pytest.approx(38.0, abs=1.0)


def test_step_time_asymmetry_from_heel_strikes_only():
    """Right heel strikes 0.45 s after the left ones, strides of 1.0 s: right steps 0.45 s, left
    steps 0.55 s. Moving every toe-off (a detector offset) changes swing, not the step times."""
    hs = np.arange(40) * 1.0
    expected = 100 * abs(np.log(0.45 / 0.55))
    for toe_off_delay in (0.60, 0.68):
        events = GaitEvents({"left": hs, "right": hs + 0.45},
                            {"left": hs[:-1] + toe_off_delay, "right": hs[:-1] + 0.45 + toe_off_delay})
        m = stride_measures(events, duration_s=100.0)
        assert m["step_time_asymmetry_pct"] == pytest.approx(expected, rel=1e-6)
        assert m["stride_time_s"] == pytest.approx(1.0)
        assert m["swing_fraction_pct"] == pytest.approx(100 * (1 - toe_off_delay))


def test_turn_strides_are_excluded():
    """Regular 1.0 s strides with a few very long ones (turns, a stop) and a missed event."""
    hs = np.cumsum(np.r_[0.0, np.full(20, 1.0), 2.2, np.full(20, 1.0), 1.8, np.full(20, 1.0)])
    to = hs[:-1] + 0.62
    events = GaitEvents({"left": hs, "right": hs + 0.5}, {"left": to, "right": to + 0.5})
    m = stride_measures(events, duration_s=200.0)
    assert m["stride_time_s"] == pytest.approx(1.0)
    assert m["n_strides"] == 2 * 60
    assert m["stride_time_cv_pct"] < 0.01
    assert m["swing_fraction_pct"] == pytest.approx(38.0)


def test_no_events_gives_nan_measures_and_zero_strides():
    empty = GaitEvents({s: np.zeros(0) for s in SIDES}, {s: np.zeros(0) for s in SIDES})
    m = stride_measures(empty, duration_s=10.0)
    assert m["n_strides"] == 0
    assert np.isnan(m["stride_time_s"])


def test_standing_still_gives_no_events():
    t = np.arange(0, 30, 0.01)
    rng = np.random.default_rng(1)
    left = 350 + rng.normal(0, 5, len(t))
    right = 350 + rng.normal(0, 5, len(t))
    events = events_from_force(t, left, right)
    assert stride_measures(events, duration_s=30.0)["n_strides"] == 0


def test_every_measure_has_label_unit_and_reference():
    for name in STRIDE_MEASURE_NAMES + ("arm_swing_amplitude_left", "arm_swing_amplitude_right",
                                        "arm_swing_asymmetry_pct"):
        label, unit, normal, description = GAIT_MEASURE_INFO[name]
        assert label and description
        assert normal is None or (normal[0] is None or normal[1] is None or normal[0] < normal[1])
