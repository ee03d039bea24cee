"""Finger tapping and rest tremor filmed as clinics film them (real MediaPipe on real video
files made from real photos; see tests/fixtures/movement/seated.py): the seated whole-body view
with both hands in view and the tested hand small, a portrait phone clip at 60 fps with a
rotation matrix, a variable frame rate, and the 10-tap rule instead of a minimum duration."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.movement import finger_tapping, tremor

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def _checks(result):
    return {c.name: c for c in result.quality.checks}


@pytest.fixture(scope="module")
def portrait_results(movement_clips):
    clip = movement_clips("portrait_60fps_rotated")
    return {side: finger_tapping.analyze(clip, side=side) for side in ("left", "right")}


def test_seated_portrait_60fps_measures_the_tapping_left_hand(portrait_results):
    result = portrait_results["left"]
    assert result.quality.ok, result.quality.problems
    m = result.measure_values()
    assert 11 <= m["tap_count"] <= 13  # 12 openings in 5 s
    assert m["tap_frequency"] == pytest.approx(2.5, rel=0.05)
    checks = _checks(result)
    # found next to the body's left wrist and followed close up on the file's own pixels
    assert checks["framing"].passed and checks["framing"].value > 90
    assert checks["hand_size"].value < 0.1 * 1080  # under a tenth of the picture width
    assert checks["frame_rate"].value == pytest.approx(30, abs=1)  # 60 fps analysed at 30
    assert result.signal["image_size"] == (360, 640)  # upright: the display matrix was applied
    # facing the camera, the person's left hand is on the right of the picture
    assert np.nanmedian(result.signal["landmarks"][:, 0, 0]) > 0.5
    assert result.score is not None


def test_seated_portrait_right_side_follows_the_resting_hand(portrait_results):
    """The clinician chose the right hand: the still right hand is followed, the tapping left
    hand beside it is ignored, and the refusal says why in plain words."""
    result = portrait_results["right"]
    checks = _checks(result)
    assert checks["detection_rate"].passed and checks["hand_side"].passed
    assert np.nanmedian(result.signal["landmarks"][:, 0, 0]) < 0.5
    assert not checks["taps"].passed and checks["taps"].value < 4
    assert "the test asks for 10 taps" in checks["taps"].message and "record again" in checks["taps"].message
    assert result.score is None


def test_seated_variable_frame_rate(movement_clips):
    clip = movement_clips("seated_vfr")
    result = finger_tapping.analyze(clip, side="left")
    assert result.quality.ok, result.quality.problems
    steps = np.diff(result.signal["times"])
    assert steps.std() > 0.004  # the uneven timing reached the analysis
    m = result.measure_values()
    assert m["tap_frequency"] == pytest.approx(3.0, rel=0.05)
    assert 14 <= m["tap_count"] <= 16  # 15 openings in 5 s
    assert np.nanmedian(result.signal["landmarks"][:, 0, 0]) > 0.5


def test_seated_rest_tremor_of_the_chosen_hand(movement_clips):
    clip = movement_clips("seated_tremor_left")
    left = tremor.analyze(clip, side="left")
    assert left.quality.ok, left.quality.problems
    assert left.measure("tremor_frequency").value == pytest.approx(5.0, abs=0.25)
    assert left.measure("tremor_constancy").value > 80
    assert _checks(left)["framing"].value > 90
    # the right hand rests beside it: its tremor amplitude is a fraction of the left's
    right = tremor.analyze(clip, side="right")
    assert np.nanmedian(right.signal["landmarks"][:, 0, 0]) < 0.5
    assert right.measure("tremor_amplitude_rms").value < 0.3 * left.measure("tremor_amplitude_rms").value


def test_twelve_taps_in_four_and_a_half_seconds_are_measured(movement_clips):
    result = finger_tapping.analyze(movement_clips("close_up_12_taps"), side="left")
    assert result.quality.ok, result.quality.problems
    assert result.duration_s == pytest.approx(4.5, abs=0.1)
    m = result.measure_values()
    assert 11 <= m["tap_count"] <= 13
    assert m["tap_frequency"] == pytest.approx(2.7, rel=0.05)
    assert _checks(result)["taps"].passed
    assert "framing" not in _checks(result)  # a close-up: no person, the whole frame as before
    assert result.score is not None


def test_six_taps_in_three_seconds_are_refused_saying_why(movement_clips):
    result = finger_tapping.analyze(movement_clips("close_up_6_taps"), side="left")
    checks = _checks(result)
    assert checks["duration"].passed  # not refused for its length
    taps = checks["taps"]
    assert not taps.passed and 5 <= taps.value <= 7
    assert taps.message.startswith(f"Only {taps.value} taps were counted; the test asks for 10 taps")
    assert "record again" in taps.message
    assert result.score is None
    assert result.measure_values()["tap_frequency"] == pytest.approx(2.0, rel=0.08)  # measures still shown


def test_command_line_prints_only_pdlens_on_stderr(movement_clips, tmp_path):
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    env["PDLENS_DATA_DIR"] = str(tmp_path / "data")
    run = subprocess.run([sys.executable, "-m", "core.cli", "analyze", "--movement",
                          str(movement_clips("close_up_12_taps")), "--task", "finger_tapping", "--side", "left"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == ""
    assert "Number of taps" in run.stdout
