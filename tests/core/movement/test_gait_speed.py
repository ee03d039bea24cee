"""Gait speed (10 m walk) from pose landmarks: SYNTHETIC walkers (no person recorded) seen by a
still side-on pinhole camera, with a known speed, cadence, body proportions and floor marks.

The synthetic body has the standing proportions of Drillis & Contini (the ones the height method
assumes), so the height tests check the method's arithmetic and its handling of acceleration and
perspective, not how well a real person's proportions fit the table."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis import ClipSetup
from core.movement.gait_speed import analyze_pose
from core.movement.landmarks import PoseSeries

WIDTH, HEIGHT = 1280, 720
FOCAL = 900.0  # px
CAM_H = 0.9  # m, camera at hip height
SIDES = ("left", "right")


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _swing_progress(w, ramp=0.15):
    p = np.where(w < ramp, w**2 / (2 * ramp),
                 np.where(w <= 1 - ramp, ramp / 2 + (w - ramp), (1 - ramp) - (1 - w) ** 2 / (2 * ramp)))
    return p / (1 - ramp)


def _knee(hip, ankle, thigh, shank, forward):
    """Knee of a two-segment leg (lengths thigh, shank) from hip to ankle, bending forward."""
    d = ankle - hip
    dist = np.linalg.norm(d, axis=1, keepdims=True)
    dist_c = np.minimum(dist, 0.999 * (thigh + shank))
    a = (thigh**2 - shank**2 + dist_c**2) / (2 * dist_c)
    h = np.sqrt(np.maximum(thigh**2 - a**2, 0.0))
    u = d / dist
    perp = np.stack([-u[:, 1], u[:, 0]], axis=1)  # in the (forward, up) plane
    perp = perp * np.sign(perp[:, :1] * forward + 1e-9)
    return hip + a * u + h * perp


def synthetic_10m_walk(speed=1.2, cadence=110.0, body_m=1.70, start=-5.0, walk_m=10.0, accel_s=1.5,
                       direction=1, depth=5.0, angle_deg=0.0, fps=30.0, noise_px=0.5, seed=0,
                       still_s=0.0):
    """A SYNTHETIC person walking `walk_m` along a straight walkway past a still camera.

    Along-walkway position 0 is straight in front of the camera (at `depth` m); the walk starts
    at `start` (in the walking direction), accelerates over `accel_s`, walks at `speed` and slows
    to a stop over `accel_s`. angle_deg turns the walkway away from square to the view. Returns
    (PoseSeries, project) where project(along_m) gives a floor point's (x, y) picture fractions
    on the walking line."""
    rng = np.random.default_rng(seed)
    stride = 120.0 * speed / cadence
    total = walk_m / speed + accel_s
    t = np.arange(0.0, total + 2 * still_s, 1.0 / fps)
    tw = t - still_s
    v = speed * _smoothstep(tw / accel_s) * _smoothstep((total - tw) / accel_s)
    s = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) / fps)])  # distance walked
    s *= walk_m / s[-1]
    phase = s / stride
    H = body_m
    ankle_h, knee_h, hip_h, sh_h = 0.039 * H, 0.285 * H, 0.530 * H, 0.818 * H
    thigh, shank = hip_h - knee_h, knee_h - ankle_h
    n = len(t)
    fwd = np.zeros((n, 33))  # distance along the walkway, from the start
    lat = np.zeros((n, 33))
    up = np.zeros((n, 33))
    pelvis = s
    feet = {}
    for i, side in enumerate(SIDES):
        first = 0.25 + 0.5 * i
        k = np.floor(phase - first)
        u = phase - first - k
        stance = 0.62
        in_swing = u >= stance
        w = np.where(in_swing, (u - stance) / (1 - stance), 0.0)
        offset = stride * first + 0.3  # heel 0.3 m ahead of the pelvis at heel strike
        heel_x = stride * k + offset + np.where(in_swing, stride * _swing_progress(w), 0.0)
        heel_h = np.where(in_swing, 0.05 * np.sin(np.pi * w) + 0.04 * (1 - w), 0.0)
        toe_h = np.where(in_swing, 0.06 * np.sin(np.pi * w), 0.0)
        feet[side] = (first, heel_x, heel_h, toe_h)
    # the pelvis rides low enough for the legs to reach both feet (segment lengths stay exact)
    reach = max(float(np.max(np.abs(f[1] + 0.05 - pelvis))) for f in feet.values())
    hip_up = ankle_h + np.sqrt(max((0.97 * (thigh + shank)) ** 2 - reach**2, (0.5 * (thigh + shank)) ** 2))
    for side in SIDES:
        first, heel_x, heel_h, toe_h = feet[side]
        l = -0.1 if side == "left" else 0.1
        heel, ankle, toe, knee, hip, sh, wrist, elbow = ((29, 27, 31, 25, 23, 11, 15, 13) if side == "left"
                                                         else (30, 28, 32, 26, 24, 12, 16, 14))
        fwd[:, heel], up[:, heel] = heel_x, heel_h
        fwd[:, toe], up[:, toe] = heel_x + 0.25, toe_h
        fwd[:, ankle], up[:, ankle] = heel_x + 0.05, heel_h + ankle_h
        fwd[:, hip], up[:, hip] = pelvis, hip_up
        kn = _knee(np.c_[fwd[:, hip], up[:, hip]], np.c_[fwd[:, ankle], up[:, ankle]], thigh, shank, 1.0)
        fwd[:, knee], up[:, knee] = kn[:, 0], kn[:, 1]
        fwd[:, sh], up[:, sh] = pelvis, hip_up + (sh_h - hip_h)
        fwd[:, wrist], up[:, wrist] = pelvis + 0.15 * np.sin(2 * np.pi * (phase - first)), hip_up - 0.05
        fwd[:, elbow], up[:, elbow] = 0.5 * (fwd[:, sh] + fwd[:, wrist]), 0.5 * (up[:, sh] + up[:, wrist])
        for j in (heel, ankle, toe, knee, hip, sh, wrist, elbow):
            lat[:, j] = l
    for j in list(range(0, 11)) + [17, 18, 19, 20, 21, 22]:
        src = 15 if (j > 10 and j % 2) else 16
        if j <= 10:
            fwd[:, j], up[:, j] = pelvis + 0.08, hip_up + (0.936 - 0.530) * H
        else:
            fwd[:, j], up[:, j] = fwd[:, src], up[:, src]
    along = start + direction * fwd  # position along the walkway
    theta = np.radians(angle_deg)

    def to_pixels(a, l, h):
        x_cam = a * np.cos(theta) + l * np.sin(theta)
        z = depth + a * np.sin(theta) - l * np.cos(theta)
        return WIDTH / 2 + FOCAL * x_cam / z, HEIGHT / 2 + FOCAL * (CAM_H - h) / z

    x, y = to_pixels(along, direction * lat, up)
    x = x + rng.normal(0, noise_px, x.shape)
    y = y + rng.normal(0, noise_px, y.shape)
    lm = np.stack([x / WIDTH, y / HEIGHT, np.zeros_like(x)], axis=-1)
    px, _ = to_pixels(start + direction * pelvis, 0.0, 0.0)
    lm[(px < 0) | (px > WIDTH)] = np.nan  # nobody in view: MediaPipe finds no one
    vis = np.where(np.isfinite(lm[:, :, 0]), 1.0, np.nan)
    pose = PoseSeries(times=t, landmarks=lm.astype(np.float32), visibility=vis.astype(np.float32),
                      world=np.full((n, 33, 3), np.nan, np.float32), image_size=(WIDTH, HEIGHT))

    def project(a):
        px_, py_ = to_pixels(np.asarray(a, float), 0.0, 0.0)
        return float(px_) / WIDTH, float(py_) / HEIGHT

    return pose, project


def _marks(project, a, b, distance=None):
    return ClipSetup(marks=(project(a), project(b)), marks_distance_m=distance if distance else abs(b - a))


def _value(result, name):
    m = result.measure(name)
    assert m is not None, (name, result.quality.problems)
    return m.value


@pytest.mark.parametrize("direction", [1, -1])
def test_speed_from_floor_marks_within_5_percent_both_directions(direction):
    speed = 1.05
    pose, project = synthetic_10m_walk(speed=speed, cadence=104.0, direction=direction, start=-5.0 * direction)
    # 6 m timed between marks 3 m either side of the camera's axis (the middle of the 10 m)
    result = analyze_pose(pose, _marks(project, -3.0 * direction, 3.0 * direction))
    assert result.quality.ok, result.quality.problems
    assert result.signal["speed_method"] == "floor marks"
    assert _value(result, "gait_speed_m_s") == pytest.approx(speed, rel=0.05)
    assert _value(result, "gait_speed_time_s") == pytest.approx(6.0 / speed, rel=0.05)
    assert _value(result, "gait_speed_distance_m") == pytest.approx(6.0)
    assert _value(result, "gait_speed_cadence_steps_per_min") == pytest.approx(104.0, rel=0.03)
    assert _value(result, "gait_speed_step_length_m") == pytest.approx(60 * speed / 104.0, rel=0.05)
    assert _value(result, "gait_speed_uncertainty_pct") < 3.0
    assert "floor marks" in result.measure("gait_speed_m_s").description
    assert result.score is None


def test_marks_speed_does_not_depend_on_perspective():
    """The marks method times crossings: a walkway 20 degrees off square still gives the speed."""
    pose, project = synthetic_10m_walk(speed=1.3, angle_deg=20.0)
    result = analyze_pose(pose, _marks(project, -2.5, 2.5))
    assert result.quality.ok, result.quality.problems
    assert _value(result, "gait_speed_m_s") == pytest.approx(1.3, rel=0.05)


def test_speed_from_height_within_stated_uncertainty():
    speed = 1.15
    pose, _ = synthetic_10m_walk(speed=speed, cadence=108.0, body_m=1.62)
    result = analyze_pose(pose, ClipSetup(height_m=1.62))
    assert result.quality.ok, result.quality.problems
    assert result.signal["speed_method"] == "patient height"
    u = _value(result, "gait_speed_uncertainty_pct")
    assert 5.0 <= u < 10.0
    assert abs(_value(result, "gait_speed_m_s") - speed) <= u / 100 * speed
    # in fact much closer: the synthetic body has exactly the table's proportions
    assert _value(result, "gait_speed_m_s") == pytest.approx(speed, rel=0.03)
    assert _value(result, "gait_speed_cadence_steps_per_min") == pytest.approx(108.0, rel=0.03)
    assert "height" in result.measure("gait_speed_m_s").description


def test_height_method_leaves_out_starting_and_stopping():
    """The whole walk in view, from standing still to standing still: the speed is the steady one,
    not the average with the acceleration (which would be ~15% slower here)."""
    pose, _ = synthetic_10m_walk(speed=1.0, start=-2.5, walk_m=5.0, accel_s=1.5, still_s=1.0)
    result = analyze_pose(pose, ClipSetup(height_m=1.70))
    assert result.quality.ok, result.quality.problems
    assert _value(result, "gait_speed_m_s") == pytest.approx(1.0, rel=0.04)
    assert 1.0 * (5.0 - 1.5) / (pose.times[-1] - 2.0) < 0.9  # the naive average is well below


def test_height_method_states_more_uncertainty_for_an_oblique_walk():
    square, _ = synthetic_10m_walk(speed=1.2)
    oblique, _ = synthetic_10m_walk(speed=1.2, angle_deg=20.0)
    a = analyze_pose(square, ClipSetup(height_m=1.70))
    b = analyze_pose(oblique, ClipSetup(height_m=1.70))
    assert a.quality.ok and b.quality.ok, (a.quality.problems, b.quality.problems)
    assert b.signal["walk_angle_deg"] == pytest.approx(20.0, abs=6.0)
    assert a.signal["walk_angle_deg"] < 5.0
    u = _value(b, "gait_speed_uncertainty_pct")
    assert u > _value(a, "gait_speed_uncertainty_pct") + 2.0
    assert abs(_value(b, "gait_speed_m_s") - 1.2) <= u / 100 * 1.2  # the truth within the stated band


def test_marks_win_over_height():
    pose, project = synthetic_10m_walk(speed=1.2)
    setup = ClipSetup(height_m=1.70, marks=(project(-3.0), project(3.0)), marks_distance_m=6.0)
    assert analyze_pose(pose, setup).signal["speed_method"] == "floor marks"


def _failed(result):
    return {c.name: c.message for c in result.quality.checks if not c.passed}


def test_no_scale_is_refused_with_what_to_do():
    pose, _ = synthetic_10m_walk()
    result = analyze_pose(pose, ClipSetup())
    failed = _failed(result)
    assert set(failed) == {"scale"}
    assert "floor marks" in failed["scale"] and "height" in failed["scale"]
    assert result.measures == []


def test_walk_outside_the_marks_is_refused():
    """The person walks 4 m in the left part of the picture; the marks are at its right edge."""
    pose, project = synthetic_10m_walk(start=-6.0, walk_m=4.0)
    result = analyze_pose(pose, _marks(project, 1.0, 3.0))
    failed = _failed(result)
    assert "marks_crossed" in failed and "both marks" in failed["marks_crossed"]
    assert result.measures == []


def test_marks_too_close_together_are_refused():
    pose, project = synthetic_10m_walk()
    result = analyze_pose(pose, _marks(project, -0.2, 0.2))  # 0.4 m: 6% of the picture's width
    failed = _failed(result)
    assert "marks_apart" in failed and "10%" in failed["marks_apart"]


def test_nobody_in_view_is_refused():
    pose, project = synthetic_10m_walk()
    pose.landmarks[:] = np.nan
    pose.visibility[:] = np.nan
    for setup in (_marks(project, -3.0, 3.0), ClipSetup(height_m=1.7)):
        failed = _failed(analyze_pose(pose, setup))
        assert "person_in_view" in failed


def test_walking_towards_the_camera_is_refused():
    pose, project = synthetic_10m_walk(angle_deg=85.0, depth=12.0, start=-4.0, walk_m=6.0)
    result = analyze_pose(pose, ClipSetup(height_m=1.70))
    assert "side_on" in _failed(result)


# --------------------------------------------------------------------------- command line

def _cli(tmp_path, *args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    env["PDLENS_DATA_DIR"] = str(tmp_path / "data")
    root = Path(__file__).resolve().parents[3]
    return subprocess.run([sys.executable, "-m", "core.cli", "analyze", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_command_line_gait_speed_exit_codes(tmp_path):
    """A real encoded clip of an empty SYNTHETIC walkway: quality failed (exit 3, nobody in view)
    with marks; bad --marks are refused before analysis (exit 2)."""
    import json

    from tests.core.test_floor_marks import empty_walkway

    clip = empty_walkway(tmp_path / "walkway.mp4")
    run = _cli(tmp_path, "--movement", str(clip), "--task", "gait_speed", "--marks", "0.2,0.8,0.8,0.8",
               "--marks-distance-m", "6", "--json")
    assert run.returncode == 3, run.stderr
    out = json.loads(run.stdout)
    text = json.dumps(out)
    assert "No person was found" in text and "gait_speed" in text
    for marks in ("0.2,0.8,1.5,0.8", "0.2,0.8,0.8", "a,b,c,d"):
        bad = _cli(tmp_path, "--movement", str(clip), "--task", "gait_speed", "--marks", marks,
                   "--marks-distance-m", "6", "--json")
        assert bad.returncode == 2, (marks, bad.stdout, bad.stderr)
        assert "--marks" in bad.stdout + bad.stderr


# --------------------------------------------------------------------------- real MediaPipe

@pytest.mark.slow
def test_real_mediapipe_on_a_composite_walker_times_it_between_the_marks(tmp_path):
    """A clip of the composite walker (tests/fixtures/movement/walkers.py: a real public-domain
    photo's head and shoulders on drawn, scripted legs; SYNTHETIC, no person recorded) crossing a
    still side-on picture and coming back: real MediaPipe pose, then the speed between two marks
    at 20% and 80% of the width (2.56 m apart at the script's 150 px/m), both passes timed."""
    from core.movement.gait_speed import analyze
    from tests.fixtures.movement.clips import write_video
    from tests.fixtures.movement.walkers import WalkerScript, walking_frames

    script = WalkerScript(stride_s=1.1, stride_length_m=1.0, passes=2)
    clip = write_video(tmp_path / "walker.mp4", walking_frames(script), fps=script.fps)
    distance = 0.6 * script.width / script.px_per_m
    cache = tmp_path / "walker.npz"
    result = analyze(clip, cache_path=cache,
                     setup=ClipSetup(marks=((0.2, 0.85), (0.8, 0.85)), marks_distance_m=distance))
    assert result.quality.ok, result.quality.problems
    assert len(result.signal["passes"]) == 2  # there and back
    truth = script.stride_length_m / script.stride_s
    assert _value(result, "gait_speed_m_s") == pytest.approx(truth, rel=0.05)
    assert _value(result, "gait_speed_cadence_steps_per_min") == pytest.approx(script.cadence, rel=0.05)
    # the same clip again from its landmark cache (what saving floor marks does): same result
    again = analyze(clip, cache_path=cache,
                    setup=ClipSetup(marks=((0.2, 0.85), (0.8, 0.85)), marks_distance_m=distance))
    assert _value(again, "gait_speed_m_s") == pytest.approx(_value(result, "gait_speed_m_s"))


# --------------------------------------------------------------------------- vocabulary and trends

def test_speed_change_and_fall_risk_cut_off_are_the_published_ones():
    from core import vocabulary
    from core.trends import change_rule

    rule = change_rule("gait_speed_m_s")
    assert rule.worse == "lower" and rule.threshold_worse == 0.06 and rule.published
    assert "Hass" in rule.source and "0.14" in rule.source and "0.22" in rule.source
    info = vocabulary.measure_info("gait_speed_m_s")
    assert info.beyond_cutoff(1.0) is True and info.beyond_cutoff(1.2) is False
    assert "1.1 m/s" in info.cutoff_text and "Lindholm" in info.cutoff_text
    assert vocabulary.measure_tasks("gait_speed_m_s") == ("gait_speed",)
