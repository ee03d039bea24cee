"""Real MediaPipe pose on the outcome-test composites (tests/fixtures/movement/outcome_clips.py):
a real public-domain photo's head and shoulders on a drawn body that sits, rises, walks and turns
with scripted kinematics. Each clip is encoded once per session to a real H.264 file, decoded with
core.media.video.VideoReader and tracked with the pose landmarker, to the landmarks stage: the
person is found, and the hip and pelvis follow the script. All synthetic.

The fast tests check the scripts' own truth (what the end-to-end tests of the pipelines compare
against); the slow ones run MediaPipe.
"""
from __future__ import annotations

import numpy as np
import pytest

from core.media.video import VideoReader, probe_video
from core.movement.landmarks import extract_pose_landmarks
from tests.fixtures.movement.outcome_clips import (
    HIP_SEATED_M,
    HIP_STANDING_M,
    GaitSpeedScript,
    SitToStandScript,
    TugScript,
    figure_height_m,
    outcome_script,
)

MIN_DETECTED = 0.8
LEFT_HIP, RIGHT_HIP = 23, 24


def _hip_px(pose) -> np.ndarray:
    """(n, 2) mean of both hips in pixels (NaN where nobody was found)."""
    out = np.full((len(pose.times), 2), np.nan)
    found = pose.detected
    out[found] = pose.pixels()[found][:, [LEFT_HIP, RIGHT_HIP], :].mean(axis=1)
    return out


def _between(times: np.ndarray, a: float, b: float) -> np.ndarray:
    return (times >= a) & (times <= b)


def _pose_of(path):
    with VideoReader(path) as reader:
        return extract_pose_landmarks(reader.frames())


# ---------------------------------------------------------------- the scripts' truth (fast)


def test_tug_script_phases_are_contiguous_and_add_up_to_the_tug_time():
    s = TugScript()
    names = ["sit_to_stand", "walk_out", "turn", "walk_back", "turn_to_sit"]
    assert list(s.phases) == names
    for a, b in zip(names, names[1:]):
        assert s.phases[a][1] == pytest.approx(s.phases[b][0])
    assert s.tug_time_s == pytest.approx(s.phases["turn_to_sit"][1] - s.phases["sit_to_stand"][0])
    assert 12.0 <= s.tug_time_s <= 15.0 and 14.0 <= s.duration_s <= 16.0
    # seated before and after, standing in between; the turn happens at the 3 m line
    assert s.hip_height_m(0.5) == pytest.approx(HIP_SEATED_M)
    assert s.hip_height_m(s.duration_s - 0.2) == pytest.approx(HIP_SEATED_M)
    assert s.hip_height_m(np.mean(s.phases["walk_out"])) == pytest.approx(HIP_STANDING_M)
    rising = [s.hip_height_m(t) for t in np.linspace(*s.phases["sit_to_stand"], 20)]
    assert np.all(np.diff(rising) >= 0) and rising[-1] == pytest.approx(HIP_STANDING_M, abs=0.01)
    lean = max(s.pose_at(t).lean for t in np.linspace(*s.phases["sit_to_stand"], 20))
    assert np.degrees(lean) > 30  # the trunk leans forward to rise
    turn = s.pose_at(np.mean(s.phases["turn"]))
    assert abs(turn.pelvis_x - s.line_x_m) < 0.2 and s.line_x_m - s.chair_front_x_m == pytest.approx(3.0)
    # every walking step lands inside a walking phase; cadence from the scripted steps
    walks = [s.phases["walk_out"], s.phases["walk_back"]]
    assert all(any(a <= t <= b for a, b in walks) for t in s.heel_strikes)
    assert len(s.heel_strikes) == s.walking_steps
    assert 80 < s.cadence_steps_per_min < 140


def test_sit_to_stand_script_has_five_slowing_repetitions_and_four_on_request():
    s = SitToStandScript()
    assert len(s.stand_times) == len(s.seated_times) == 5
    assert np.all(np.diff(s.repetition_s) > 0) and s.repetition_trend_s == pytest.approx(0.1, abs=1e-6)
    assert s.five_stands_s == pytest.approx(s.stand_times[4] - s.start_s)
    for up, down in zip(s.stand_times, s.seated_times):
        assert s.hip_height_m(up + 0.05) == pytest.approx(HIP_STANDING_M)
        assert s.hip_height_m(down + 0.05) == pytest.approx(HIP_SEATED_M)
    four = outcome_script("sit_to_stand", stands=4)
    assert len(four.stand_times) == 4 and np.isnan(four.five_stands_s)
    never = outcome_script("sit_to_stand", never_sits=True)
    assert never.stand_times == [] and all(never.hip_height_m(t) == pytest.approx(HIP_STANDING_M)
                                           for t in np.arange(0, never.duration_s, 0.5))
    pushing = outcome_script("sit_to_stand", arms_used_in=(3,))
    assert pushing.arms_used and not s.arms_used
    assert pushing.pose_at(pushing.start_s + 0.1).arms == "folded"
    assert pushing.pose_at(pushing.stand_times[2] - 0.2).arms == "push"


def test_tug_turn_can_be_put_outside_the_picture():
    assert TugScript().turn_in_view
    far = outcome_script("tug", walk_m=4.5)
    assert not far.turn_in_view and far.pose_at(np.mean(far.phases["turn"])).pelvis_x * far.px_per_m > far.width


def test_gait_speed_script_marks_and_crossings():
    s = GaitSpeedScript(speed_m_s=1.2, marks_distance_m=3.0)
    (a, ya), (b, yb) = s.marks_px
    assert (b - a) / s.px_per_m == pytest.approx(3.0) and ya == yb == s.floor_px
    assert s.marks[0] == pytest.approx((a / s.width, ya / s.height))
    t1, t2 = s.mark_crossing_s
    assert 3.0 / (t2 - t1) == pytest.approx(1.2)
    assert s.pelvis_x_m(t1) == pytest.approx(s.mark_x_m[0])
    assert s.cadence_steps_per_min == pytest.approx(60 * 1.2 / s.step_length_m)
    assert 1.5 < figure_height_m() < 2.0 and s.height_m == figure_height_m()


# ---------------------------------------------------------------- real MediaPipe (slow)


@pytest.fixture(scope="module")
def tug_pose(outcome_clips):
    path, script = outcome_clips("tug")
    return path, script, _pose_of(path)


@pytest.fixture(scope="module")
def sts_pose(outcome_clips):
    path, script = outcome_clips("sit_to_stand")
    return path, script, _pose_of(path)


@pytest.fixture(scope="module")
def walk_pose(outcome_clips):
    path, script = outcome_clips("gait_speed")
    return path, script, _pose_of(path)


@pytest.mark.slow
def test_tug_clip_is_a_real_video_of_the_scripted_length(tug_pose):
    path, script, pose = tug_pose
    info = probe_video(path)
    assert (info.width, info.height) == (640, 480)
    assert len(pose.times) == int(round(script.duration_s * script.fps))
    assert pose.times[-1] == pytest.approx(script.duration_s, abs=2 / script.fps)


@pytest.mark.slow
def test_tug_person_is_tracked_seated_rising_walking_and_sitting(tug_pose):
    _, s, pose = tug_pose
    assert pose.detected.mean() >= MIN_DETECTED
    hip = _hip_px(pose)
    t = pose.times
    rise0, _ = s.phases["sit_to_stand"]
    _, seated = s.phases["turn_to_sit"]
    seated_y = np.nanmedian(hip[(t < rise0 - 0.2) | (t > seated + 0.2), 1])
    standing = _between(t, *s.phases["walk_out"]) | _between(t, *s.phases["walk_back"])
    standing_y = np.nanmedian(hip[standing, 1])
    # the scripted hip drops 0.36 m when seated (about 50 px): at least 60 % of it seen
    assert seated_y - standing_y > 0.6 * (HIP_STANDING_M - HIP_SEATED_M) * s.px_per_m
    # the pelvis goes out to the 3 m line and back: within 0.15 m of the script while walking
    true_x = np.array([s.pose_at(ti).pelvis_x for ti in t[standing]]) * s.px_per_m
    err = np.abs(hip[standing, 0] - true_x)
    assert np.nanmedian(err) < 0.15 * s.px_per_m
    turn = _between(t, *s.phases["turn"])
    assert np.nanmedian(hip[turn, 0]) == pytest.approx(s.line_x_m * s.px_per_m, abs=0.3 * s.px_per_m)


@pytest.mark.slow
def test_five_stands_are_seen_in_the_hip_height(sts_pose):
    _, s, pose = sts_pose
    assert pose.detected.mean() >= MIN_DETECTED
    hip_y = _hip_px(pose)[:, 1]
    t = pose.times
    drop = (HIP_STANDING_M - HIP_SEATED_M) * s.px_per_m
    for k, (up, down) in enumerate(zip(s.stand_times, s.seated_times)):
        standing_y = np.nanmedian(hip_y[_between(t, up, up + s.stand_s)])
        seated_y = np.nanmedian(hip_y[_between(t, down, down + s.pause_s)])
        assert seated_y - standing_y > 0.6 * drop, f"repetition {k + 1}"
    # the hip rises through half way five times, each near the scripted time
    level = np.nanmedian(hip_y[t < s.start_s - 0.2]) - 0.5 * drop
    above = np.nan_to_num(hip_y, nan=np.inf) < level
    rises = t[1:][above[1:] & ~above[:-1]]
    assert len(rises) == 5
    true_mid = [a + 0.5 * (b - a) for a, b in zip([s.start_s] + [d + s.pause_s for d in s.seated_times], s.stand_times)]
    assert np.max(np.abs(rises - np.array(true_mid))) < 0.3


@pytest.mark.slow
def test_walker_crosses_the_floor_marks_at_the_scripted_times(walk_pose):
    _, s, pose = walk_pose
    t = pose.times
    in_view = np.array([0.0 <= s.pelvis_x_m(ti) <= s.view_m for ti in t])
    assert pose.detected[in_view].mean() >= MIN_DETECTED
    x = _hip_px(pose)[:, 0]
    ok = np.isfinite(x)
    crossings = []
    for mark_px, _ in s.marks_px:
        after = np.flatnonzero(ok & (x >= mark_px))
        i = after[0]
        j = np.flatnonzero(ok[:i])[-1]  # last tracked frame before it
        crossings.append(np.interp(mark_px, [x[j], x[i]], [t[j], t[i]]))
    assert np.max(np.abs(np.array(crossings) - np.array(s.mark_crossing_s))) < 0.1
    speed = s.marks_distance_m / (crossings[1] - crossings[0])
    assert speed == pytest.approx(s.speed_m_s, rel=0.05)


@pytest.mark.slow
def test_a_turn_outside_the_picture_loses_the_person_only_while_turning(outcome_clips):
    """The clip a tug pipeline must refuse ("the turn outside the picture"): tracked while
    seated and walking in view, not while turning beyond the picture's edge."""
    path, s = outcome_clips("tug", walk_m=4.5)
    pose = _pose_of(path)
    t = pose.times
    assert not s.turn_in_view
    assert pose.detected[_between(t, *s.phases["turn"])].mean() < 0.2
    assert pose.detected[t < s.phases["walk_out"][0] + 1.0].mean() >= MIN_DETECTED


def _found_strikes(pose) -> np.ndarray:
    from core.movement import gait

    events = gait.events_from_pose(pose)
    return np.sort(np.concatenate([events.heel_strikes[side] for side in events.heel_strikes]))


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["walk_pose", "tug_pose"])
def test_the_gait_event_detector_finds_the_scripted_steps(clip, request):
    """The scripted foot kinematics are what the existing pose event detector
    (core.movement.gait.events_from_pose) sees: each heel strike it finds lies near a scripted
    one, and it finds most of those taken in view."""
    _, s, pose = request.getfixturevalue(clip)
    found = _found_strikes(pose)
    true = np.asarray(s.heel_strikes)
    if isinstance(s, GaitSpeedScript):  # only the steps taken with the pelvis in the picture
        true = true[[0.3 <= s.pelvis_x_m(t) <= s.view_m - 0.3 for t in true]]
    assert len(found) >= 0.6 * len(true)
    assert np.max(np.min(np.abs(found[:, None] - np.asarray(s.heel_strikes)[None, :]), axis=1)) < 0.12
