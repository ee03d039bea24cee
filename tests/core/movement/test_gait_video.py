"""The whole gait path on real video: PyAV decoding -> MediaPipe pose -> quality -> measures.

The person clip is built from a real photograph (skimage.data.astronaut(): NASA portrait of
Eileen Collins, public domain, shipped with scikit-image); a photo cannot walk, so the pipeline
must find the person and then refuse to score for lack of strides. Other clips are synthetic."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis import analyze_recording
from core.movement import gait
from core.pipeline import UnusableInput
from tests.fixtures.movement.clips import write_audio_only, write_video


def _astronaut_frames(seconds=6.0, fps=30):
    from skimage import data

    photo = data.astronaut()  # 512 x 512 RGB
    for i in range(int(seconds * fps)):
        canvas = np.full((480, 640, 3), 200, np.uint8)
        dx = int(round(8 * np.sin(2 * np.pi * i / fps / 2)))  # a slight sway: a video, not a still
        canvas[:, 64 + dx:64 + dx + 480] = photo[16:496, 16:496]
        yield canvas


@pytest.mark.slow
def test_still_person_is_detected_but_not_scored(tmp_path):
    clip = write_video(tmp_path / "astronaut.mp4", _astronaut_frames(), fps=30)
    result = analyze_recording(clip, "gait")
    checks = {c.name: c for c in result.quality.checks}
    assert checks["person_in_view"].passed and checks["person_in_view"].value > 0  # found, not refused for it
    assert checks["duration"].passed
    assert not result.quality.ok
    assert result.score is None
    assert not checks["strides"].passed
    assert "walk" in checks["strides"].message
    # a head-and-shoulders picture: the feet are not in view, and the message says what to do
    assert not checks["feet_visible"].passed
    assert "feet" in checks["feet_visible"].message
    # artefacts for the results page
    assert result.signal["landmarks"].shape[1:] == (33, 3)
    assert result.signal["key_frame"] is not None and max(result.signal["key_frame"].shape[:2]) <= 320
    assert len(result.signal["times"]) > 100


@pytest.mark.slow
def test_noise_clip_has_no_person(tmp_path):
    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(90))
    clip = write_video(tmp_path / "noise.mp4", frames, fps=15)
    result = gait.analyze(clip)
    assert not result.quality.ok
    assert result.score is None
    assert result.measures == []
    check = next(c for c in result.quality.checks if c.name == "person_in_view")
    assert not check.passed and "No person" in check.message


def test_audio_only_file_is_unusable(tmp_path):
    audio = write_audio_only(tmp_path / "voice.m4a", seconds=1.0)
    with pytest.raises(UnusableInput, match="no picture|sound"):
        gait.analyze(audio)


def test_landmark_cache_is_reused(tmp_path):
    """A cached pose series is analysed without decoding (the clip may even be gone)."""
    from tests.core.movement.test_gait_pose import synthetic_walk

    pose = synthetic_walk(1.1, (0.38, 0.38), view="side", seconds=12.0)
    cache = pose.save_series(tmp_path / "walk.npz")
    result = gait.analyze(tmp_path / "missing.mp4", cache_path=cache)
    checks = {c.name: c for c in result.quality.checks}
    assert checks["strides"].passed and checks["feet_visible"].passed
    assert result.quality.ok
    assert result.measure("stride_time_s").value == pytest.approx(1.1, rel=0.03)
    assert result.measure("cadence_steps_per_min").unit == "steps/min"
    assert result.measure("arm_swing_asymmetry_pct") is not None
    # quality ok and >= 12 strides: the gait model was asked (a score, or an abstention with a reason)
    assert result.measure("n_strides").value >= gait.MIN_STRIDES_FOR_SCORE
    assert result.score is not None
    assert result.score.probability is not None or result.score.abstained
    # interval measures only: the model's inputs are heel-strike intervals
    from models.registry import load_model

    assert set(load_model("gait").feature_names) <= set(gait.INTERVAL_MEASURES)
