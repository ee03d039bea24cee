"""Timed Up and Go on SYNTHETIC pose sequences with known phase times (core/synthetic/
outcome_poses.py: a scripted body projected side-on and at 45 degrees, with landmark jitter; no
person recorded), and on a real video file through core.analysis and the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.movement import tug
from core.movement.landmarks import PoseSeries
from core.synthetic.outcome_poses import synthetic_tug

ROOT = Path(__file__).resolve().parents[3]
PHASES = ("tug_time_s", "tug_sit_to_stand_s", "tug_walk_out_s", "tug_turn_s", "tug_walk_back_s",
          "tug_turn_to_sit_s")


def _failed(result):
    return {c.name: c.message for c in result.quality.checks if not c.passed}


@pytest.mark.parametrize("view", ["side", "45"])
@pytest.mark.parametrize("seed", [0, 1])
def test_phases_within_a_fifth_of_a_second(view, seed):
    pose, truth = synthetic_tug(view=view, seed=seed)
    result = tug.analyze_pose(pose)
    assert result.quality.ok, result.quality.problems
    assert result.score is None  # no model for the outcome tests: measures only
    for name in PHASES:
        assert result.measure(name).value == pytest.approx(truth[name], abs=0.2), name
    values = result.measure_values()
    assert sum(values[n] for n in PHASES[1:]) == pytest.approx(values["tug_time_s"], abs=1e-6)
    assert abs(values["tug_turn_steps"] - truth["tug_turn_steps"]) <= 1
    assert values["tug_cadence_steps_per_min"] == pytest.approx(truth["tug_cadence_steps_per_min"], rel=0.05)
    assert result.measure("tug_time_s").unit == "s"


def test_a_slower_turn_is_longer_and_has_more_steps():
    quick = tug.analyze_pose(synthetic_tug(turn_s=2.0)[0]).measure_values()
    pose, truth = synthetic_tug(turn_s=4.0, step_s=0.6)
    slow = tug.analyze_pose(pose).measure_values()
    assert slow["tug_turn_s"] == pytest.approx(truth["tug_turn_s"], abs=0.2)
    assert slow["tug_turn_s"] > quick["tug_turn_s"] + 1.5
    assert slow["tug_turn_steps"] > quick["tug_turn_steps"]


def test_walking_right_to_left_gives_the_same_times():
    pose, truth = synthetic_tug()
    mirrored = PoseSeries(pose.times, pose.landmarks.copy(), pose.visibility, pose.world, pose.image_size)
    mirrored.landmarks[:, :, 0] = 1.0 - mirrored.landmarks[:, :, 0]
    values = tug.analyze_pose(mirrored).measure_values()
    assert values["tug_time_s"] == pytest.approx(truth["tug_time_s"], abs=0.2)
    assert values["tug_turn_s"] == pytest.approx(truth["tug_turn_s"], abs=0.2)


def test_signals_for_plots():
    pose, truth = synthetic_tug()
    signal = tug.analyze_pose(pose).signal
    assert len(signal["times"]) == len(signal["posture_state"]) == len(signal["pelvis"])
    assert signal["phases"]["turn_start"] == pytest.approx(truth["turn_start"], abs=0.2)
    assert [k for k, _, _ in signal["transitions"]] == ["rise", "sit"]
    states = set(np.unique(signal["posture_state"]))
    assert {0, 1, 2, 3} <= states  # seated, rising, standing, sitting down


def test_person_standing_throughout_is_refused():
    pose, _ = synthetic_tug(seated_at_start=False)
    result = tug.analyze_pose(pose)
    assert not result.quality.ok and result.measures == []
    assert "sits in the chair" in _failed(result)["seated_at_start"]


def test_turn_outside_the_picture_is_refused():
    pose, truth = synthetic_tug()
    middle = 0.5 * (truth["turn_start"] + truth["turn_end"])
    gone = (pose.times >= middle - 1.0) & (pose.times < middle + 1.0)  # 2 s out of view at the turn
    pose.landmarks[gone] = np.nan
    pose.visibility[gone] = np.nan
    result = tug.analyze_pose(pose)
    assert not result.quality.ok and result.measures == []
    assert "step the camera back so the chair and the 3 m line are both in view" in _failed(result)["in_view"]


def test_walking_out_of_the_picture_at_the_turn_is_refused():
    """MediaPipe still guesses a body leaving the picture: landmarks beyond its edge are no walk."""
    pose, truth = synthetic_tug()
    middle = 0.5 * (truth["turn_start"] + truth["turn_end"])
    gone = (pose.times >= middle - 1.0) & (pose.times < middle + 1.0)
    pose.landmarks[gone, :, 0] += 0.6  # beyond the right edge of the picture
    result = tug.analyze_pose(pose)
    assert "3 m line are both in view" in _failed(result)["in_view"]


def test_no_sitting_down_at_the_end_is_refused():
    pose, truth = synthetic_tug()
    keep = pose.times < truth["walk_back_end"]
    cut = PoseSeries(pose.times[keep], pose.landmarks[keep], pose.visibility[keep], pose.world[keep], pose.image_size)
    result = tug.analyze_pose(cut)
    assert "did not sit down again" in _failed(result)["sits_again"]


def test_never_standing_up_is_refused():
    pose, _ = synthetic_tug()  # its first frame: seated; held for 5 s with fresh jitter
    rng = np.random.default_rng(1)
    held = np.repeat(pose.landmarks[:1], 150, axis=0)
    held[..., :2] += rng.normal(0, 0.8 / 1280, held[..., :2].shape).astype(np.float32)
    seated = PoseSeries(np.arange(150) / 30.0, held, np.ones((150, 33), np.float32),
                        np.full((150, 33, 3), np.nan, np.float32), pose.image_size)
    result = tug.analyze_pose(seated)
    assert not result.quality.ok
    assert "standing up" in " ".join(result.quality.problems)


def test_nobody_in_view_is_refused():
    pose, _ = synthetic_tug()
    pose.landmarks[:] = np.nan
    result = tug.analyze_pose(pose)
    assert "No person" in _failed(result)["person_in_view"]
    assert result.measures == [] and result.score is None


def test_cached_pose_series_is_analysed_without_the_clip(tmp_path):
    pose, truth = synthetic_tug(view="45")
    cache = pose.save_series(tmp_path / "tug.npz")
    result = tug.analyze(tmp_path / "missing.mp4", cache_path=cache)
    assert result.measure("tug_time_s").value == pytest.approx(truth["tug_time_s"], abs=0.2)


def _noise_clip(path):
    from tests.fixtures.movement.clips import write_video

    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(150))
    return write_video(path, frames, fps=30)


@pytest.mark.slow
def test_real_video_without_a_person_is_refused_by_a_check(tmp_path):
    """A real file, decoded and given to MediaPipe: nobody in it -> a failed QualityCheck, not a
    crash; and the CLI exits 3 (quality failed) for it."""
    from core.analysis import analyze_recording

    clip = _noise_clip(tmp_path / "noise.mp4")
    result = analyze_recording(clip, "tug", cache_path=tmp_path / "noise.npz")
    assert not result.quality.ok and result.measures == [] and result.score is None
    check = next(c for c in result.quality.checks if c.name == "person_in_view")
    assert not check.passed and "No person" in check.message
    done = subprocess.run([sys.executable, "-m", "core.cli", "analyze", "--movement", str(clip), "--task", "tug",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["quality"]["ok"] is False


def test_camera_distance_does_not_change_the_times():
    """Thresholds are relative to the person's own seated and standing levels and torso length,
    not pixels: the same test filmed from further away (a smaller person in the picture)."""
    pose, truth = synthetic_tug(view="45")
    far = PoseSeries(pose.times, pose.landmarks.copy(), pose.visibility, pose.world, pose.image_size)
    far.landmarks[:, :, :2] = 0.5 + 0.6 * (far.landmarks[:, :, :2] - 0.5)
    near_values = tug.analyze_pose(pose).measure_values()
    far_values = tug.analyze_pose(far).measure_values()
    for name in PHASES:
        assert far_values[name] == pytest.approx(truth[name], abs=0.2), name
        assert far_values[name] == pytest.approx(near_values[name], abs=0.1), name


@pytest.mark.slow
def test_real_mediapipe_on_a_walker_who_never_sits(tmp_path):
    """Real MediaPipe pose on a composite walking clip (tests/fixtures/movement/walkers.py: a real
    public-domain photo's head and shoulders on drawn, moving legs; synthetic movement): the
    landmarks stage runs and both outcome pipelines refuse it for the reason that applies (the
    person never sits), with a failed check, not a crash."""
    from core.analysis import analyze_recording
    from tests.fixtures.movement.clips import write_video
    from tests.fixtures.movement.walkers import WalkerScript, walking_frames

    script = WalkerScript(passes=1, absent_s=0.5)
    clip = write_video(tmp_path / "walker.mp4", walking_frames(script), fps=script.fps)
    cache = tmp_path / "walker.npz"
    result = analyze_recording(clip, "tug", cache_path=cache)
    checks = {c.name: c for c in result.quality.checks}
    assert checks["person_in_view"].passed
    assert result.signal["landmarks"].shape[1:] == (33, 3)
    assert not result.quality.ok and result.measures == []
    assert "sits in the chair" in checks["seated_at_start"].message
    again = analyze_recording(clip, "sit_to_stand", cache_path=cache)  # the cached landmarks
    assert not again.quality.ok
    assert "sits in the chair" in {c.name: c for c in again.quality.checks}["seated_at_start"].message
