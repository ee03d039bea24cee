"""Real walks as clinics film them: side-on, the person enters the picture, crosses it, turns
outside it and comes back, maybe with the examiner standing in view. The complete strides in view
are measured; frames with nobody in view are no fault and create no events.

Fast tests use synthetic landmark series (tests.core.movement.test_gait_pose.synthetic_walk); the
slow ones real MediaPipe on clips of a composite walker with known events
(tests/fixtures/movement/walkers.py: a real public-domain photo's head and shoulders on drawn,
scripted legs). All synthetic: no person was recorded."""
from __future__ import annotations

import numpy as np
import pytest

from core.movement import gait
from core.movement.gait import SIDES, events_from_pose, gait_quality, pose_tracks, stride_measures
from core.movement.landmarks import PoseSeries
from tests.core.movement.test_gait_pose import synthetic_walk
from tests.fixtures.movement.clips import write_video
from tests.fixtures.movement.walkers import WalkerScript, walking_frames

# Tolerances for measures from video against the walker's script: stride time and cadence
# within 3% (a frame is 3% of a 1.1 s stride at 30 fps); heel strikes a median 0.05 s or less
# from a true one, none more than 0.15 s (a strike as the walker leaves the picture is the worst).
INTERVAL_TOLERANCE = 0.03
EVENT_TOLERANCE_S = 0.05
EVENT_WORST_S = 0.15


def _with_absences(pose: PoseSeries, absent: list[tuple[float, float]]) -> PoseSeries:
    lm, vis = pose.landmarks.copy(), pose.visibility.copy()
    for a, b in absent:
        gone = (pose.times >= a) & (pose.times < b)
        lm[gone] = np.nan
        vis[gone] = np.nan
    return PoseSeries(pose.times, lm, vis, pose.world, pose.image_size)


def _all_events(events) -> np.ndarray:
    return np.concatenate([events.heel_strikes[s] for s in SIDES] + [events.toe_offs[s] for s in SIDES])


def test_frames_without_a_person_create_no_events_and_no_bridging_strides():
    pose = synthetic_walk(1.1, (0.38, 0.38), view="side", seconds=20.0)
    absent = [(0.0, 2.0), (8.0, 10.0), (17.0, 20.0)]  # not yet in, turning outside, gone
    pose = _with_absences(pose, absent)
    events = events_from_pose(pose)
    times = _all_events(events)
    for a, b in absent:
        assert not np.any((times > a) & (times < b)), (a, b)
    # walking stretches end at the exit and start again at the re-entry
    assert not any(a < 9.0 < b for a, b in events.walking)
    m = stride_measures(events, duration_s=20.0)
    assert m["stride_time_s"] == pytest.approx(1.1, rel=INTERVAL_TOLERANCE)
    assert m["stride_time_cv_pct"] < 3.0  # a stride across the turn would be 2-3 s long
    assert m["n_strides"] >= gait.MIN_STRIDES
    # a person in view in only 60% of the frames is not refused for it
    quality = gait_quality(pose, int(m["n_strides"]), events)
    assert quality.ok, quality.problems
    names = {c.name for c in quality.checks}
    assert "detection_rate" not in names and "tracking_gap" not in names
    in_view = next(c for c in quality.checks if c.name == "walking_in_view")
    assert "2 passes" in in_view.message


def test_feet_out_of_the_picture_give_no_events():
    """Entering the picture, hips and shoulders are in view before the feet: MediaPipe still
    guesses the feet (outside the picture, low visibility); such guesses make no events."""
    pose = synthetic_walk(1.1, (0.38, 0.38), view="side", seconds=12.0)
    lm, vis = pose.landmarks.copy(), pose.visibility.copy()
    cut = pose.times < 3.0
    lm[np.ix_(cut, gait.FEET_LANDMARKS, [1])] += 0.5  # below the bottom edge
    vis[np.ix_(cut, gait.FEET_LANDMARKS)] = 0.2
    pose = PoseSeries(pose.times, lm, vis, pose.world, pose.image_size)
    events = events_from_pose(pose)
    assert np.all(_all_events(events) >= 2.9)
    m = stride_measures(events, duration_s=12.0)
    assert m["stride_time_s"] == pytest.approx(1.1, rel=INTERVAL_TOLERANCE)


def test_too_few_strides_are_refused_in_plain_words():
    pose = synthetic_walk(1.1, (0.38, 0.38), view="side", seconds=20.0)
    pose = _with_absences(pose, [(0.0, 6.0), (9.2, 20.0)])  # about 3 s in view
    m = stride_measures(events_from_pose(pose), duration_s=20.0)
    assert 0 < m["n_strides"] < gait.MIN_STRIDES
    quality = gait_quality(pose, int(m["n_strides"]), events_from_pose(pose))
    assert not quality.ok
    strides = next(c for c in quality.checks if c.name == "strides")
    assert not strides.passed
    assert f"at least {gait.MIN_STRIDES}" in strides.message and "walk back" in strides.message


def test_the_walker_is_chosen_over_a_standing_person():
    walk = synthetic_walk(1.1, (0.38, 0.38), view="side", seconds=12.0)
    moving = walk.landmarks.copy()
    moving[:, :, 0] = moving[:, :, 0] * 0.5 + 0.05 * walk.times[:, None]  # crosses the picture
    walker = PoseSeries(walk.times, moving, walk.visibility, walk.world, walk.image_size)
    still = walk.landmarks.copy()
    still[:, :, 0] = still[0:1, :, 0] * 0.5 + 0.4  # the first frame's pose, standing
    rng = np.random.default_rng(1)
    still = still + rng.normal(0, 0.002, still.shape).astype(np.float32)  # landmark jitter
    examiner = PoseSeries(walk.times, still, walk.visibility, walk.world, walk.image_size)
    assert gait.walker_travel(examiner) < 0.5
    assert gait.walker_travel(walker) > 3.0  # 0.6 of a 1280 px picture, torso 150 px: about 5
    assert gait.choose_walker([examiner, walker]) == [1]


# ----------------------------------------------------------------- real MediaPipe on clips


def _analyze(tmp_path_factory, script: WalkerScript, name: str):
    clip = write_video(tmp_path_factory.mktemp("walk") / f"{name}.mp4", walking_frames(script), fps=script.fps)
    return gait.analyze(clip)


@pytest.fixture(scope="module")
def walk_in_and_out(tmp_path_factory):
    script = WalkerScript(stride_s=1.1, swing=0.38, passes=2)
    return script, _analyze(tmp_path_factory, script, "in_and_out")


@pytest.mark.slow
def test_walk_entering_and_leaving_the_picture_is_measured(walk_in_and_out):
    script, result = walk_in_and_out
    checks = {c.name: c for c in result.quality.checks}
    assert result.quality.ok, result.quality.problems
    assert checks["person_in_view"].value < 80  # nobody in view at the start, the turn and the end
    assert "detection_rate" not in checks and "tracking_gap" not in checks
    assert "2 passes" in checks["walking_in_view"].message
    assert result.measure("stride_time_s").value == pytest.approx(script.stride_s, rel=INTERVAL_TOLERANCE)
    assert result.measure("cadence_steps_per_min").value == pytest.approx(script.cadence, rel=INTERVAL_TOLERANCE)
    assert result.measure("n_strides").value >= gait.MIN_STRIDES
    # every heel strike found is a true one (the labels of the feet may be swapped: either foot)
    truth = np.concatenate([hs[s] for hs in script.heel_strikes for s in SIDES])
    found = np.concatenate([result.signal["heel_strikes"][s] for s in SIDES])
    assert len(found) >= 2 * gait.MIN_STRIDES
    error = np.min(np.abs(found[:, None] - truth[None, :]), axis=1)
    assert np.median(error) < EVENT_TOLERANCE_S and np.max(error) < EVENT_WORST_S
    # nothing while nobody is in view, and no walking stretch across the turn
    (_, exit_1), (enter_2, _) = script.in_view
    turn = (exit_1 + 0.5, enter_2 - 0.5)
    assert not np.any((found > turn[0]) & (found < turn[1]))
    assert found.min() > script.in_view[0][0] - 0.5 and found.max() < script.in_view[1][1] + 0.5
    assert not any(a < turn[0] and b > turn[1] for a, b in result.signal["walking_spans"])
    # swing is shown (with a caution), near the script's 38% on this synthetic walker
    assert result.measure("swing_fraction_pct").value == pytest.approx(100 * script.swing, abs=5.0)
    # a score only from 12 strides; below that the model says why in plain words
    if result.measure("n_strides").value < gait.MIN_STRIDES_FOR_SCORE:
        assert result.score.probability is None and "strides" in result.score.abstained


@pytest.mark.slow
def test_walk_with_too_few_strides_in_view_is_refused(tmp_path_factory):
    # closer camera (a narrower stretch of the path in view), one pass only
    script = WalkerScript(passes=1, px_per_m=230.0)
    result = _analyze(tmp_path_factory, script, "one_short_pass")
    checks = {c.name: c for c in result.quality.checks}
    assert checks["person_in_view"].passed
    assert not checks["strides"].passed and checks["strides"].value < gait.MIN_STRIDES
    assert "walk back" in checks["strides"].message and f"at least {gait.MIN_STRIDES}" in checks["strides"].message
    assert result.score is None and result.measures == []


@pytest.mark.slow
def test_examiner_standing_in_view_does_not_capture_the_tracking(tmp_path_factory):
    script = WalkerScript(passes=2, second_person_x=0.85)
    result = _analyze(tmp_path_factory, script, "with_examiner")
    assert int(np.max(np.asarray(result.signal["people_in_view"]))) == 2
    checks = {c.name: c for c in result.quality.checks}
    assert checks["strides"].passed, result.quality.problems
    assert result.measure("stride_time_s").value == pytest.approx(script.stride_s, rel=INTERVAL_TOLERANCE)
    # the tracked person travelled across the picture in both passes (not the examiner)
    assert "2 passes" in checks["walking_in_view"].message
