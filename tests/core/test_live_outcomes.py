"""core.live for the outcome tests (Timed Up and Go, Five Times Sit to Stand, gait speed): live
readouts while recording and the landmarks ready at Stop.

Each clip is a SYNTHETIC composite of tests/fixtures/movement/outcome_clips.py (a real photo's
head and shoulders on a drawn body that rises, walks, turns and sits; no person was recorded)
fed frame by frame through the browser's path: VideoClipRecorder encodes it, the live tracker
decodes the encoder's packets and runs the offline pose tracker on them (thinned to 15 fps, two
people, the task's own choice of the tested person), as tests/core/test_live.py does for
tapping, tremor and gait. Real MediaPipe, real SQLite.

Tolerances: the live frames are the stored clip's own decoded frames, so the live landmarks are
expected to EQUAL a from-scratch analysis of the stored clip, and the readouts to equal the
pipelines' measures of the same frames exactly (counts and times: same floats).
"""
from __future__ import annotations

import time
from itertools import islice

import numpy as np
import pytest

from tests.core.test_live import record_through_live_path

slow = pytest.mark.slow


def _frames(kind: str, **script):
    """(t, rgb) frames of the synthetic outcome composite, one frame past the end."""
    from tests.fixtures.movement.outcome_clips import outcome_script

    s = outcome_script(kind, **script)
    frames = [(i / s.fps, rgb) for i, rgb in enumerate(s.frames())]
    return s, frames


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """recorded(kind) -> (stored clip path, tracker, {k: readout of the first k tracked frames},
    k list, script), each kind recorded once per module through the live path."""
    folder = tmp_path_factory.mktemp("live_outcomes")
    done: dict[str, tuple] = {}

    def run(kind: str):
        if kind not in done:
            script, frames = _frames(kind)
            # checkpoints in tracked frames (15 fps of the 30 fps clip): a third and two thirds in
            n = len(frames) // 2
            ks = (n // 3, 2 * n // 3)
            clip, tracker, readouts = _record(frames, kind, ks)
            path = folder / f"{kind}.mp4"
            path.write_bytes(clip)
            assert tracker.series(300) is not None, tracker.error
            done[kind] = (path, tracker, readouts, ks, script)
        return done[kind]

    return run


def _record(frames, kind, tracked_checkpoints):
    """record_through_live_path with checkpoints counted in TRACKED frames (the tracker passes
    every other frame of a 30 fps clip): frames are fed until the tracker reached k, then its
    readout of exactly k frames is taken."""
    from core.live import LiveVideoTracker
    from core.recorders import VideoClipRecorder

    rec = VideoClipRecorder(frames[-1][0] - 0.01, countdown_s=0.0)
    tracker = LiveVideoTracker(kind, None)
    rec.listener = tracker
    rec.arm(now=0.0)
    readouts = {}
    pending = sorted(tracked_checkpoints)
    for t, rgb in frames:
        rec.add_rgb(rgb, t, now=t)
        # 2k source frames fed: the tracker can reach k (thinned looks one frame ahead)
        while pending and tracker.received >= 2 * pending[0] + 2:
            k = pending.pop(0)
            deadline = time.monotonic() + 120
            while tracker.tracked < k and time.monotonic() < deadline:
                time.sleep(0.01)
            readouts[k] = tracker.readout(upto=k)
        if rec.state == "complete":
            break
    clip = rec.take_clip()
    assert clip is not None
    assert len(readouts) == len(tracked_checkpoints)
    return clip, tracker, readouts


def _offline_first(path, kind: str, k: int):
    """The pose series of the first k frames the task's analysis tracks, from the stored clip
    (decoded and thinned as decode_pose does, MediaPipe from scratch)."""
    from core.live import pose_chooser
    from core.media.video import VideoReader
    from core.movement.frames import OUTCOME_FRAME_GAP_S, thinned
    from core.movement.gait import NUM_POSES
    from core.movement.landmarks import extract_pose_landmarks

    with VideoReader(path) as reader:
        return extract_pose_landmarks(islice(thinned(reader.frames(), OUTCOME_FRAME_GAP_S), k),
                                      num_poses=NUM_POSES, choose=pose_chooser(kind))


def _assert_live_series_is_the_offline_one(tracker, path, kind):
    from core.live import pose_chooser
    from core.movement.tug import decode_pose

    live = tracker.series()
    offline, _ = decode_pose(path, choose=pose_chooser(kind))  # from scratch: decode + MediaPipe
    assert np.array_equal(live.times, offline.times)
    assert np.array_equal(live.landmarks, offline.landmarks, equal_nan=True)
    assert tracker.backlog == 0 and tracker.tracked == len(offline.times)
    return offline


@slow
def test_live_sit_to_stand_counts_the_stands_of_the_offline_analysis(recorded):
    from core.live import sit_to_stand_readout
    from core.movement import sit_to_stand

    path, tracker, readouts, ks, script = recorded("sit_to_stand")
    offline = _assert_live_series_is_the_offline_one(tracker, path, "sit_to_stand")
    # part way: the readout of k frames is the pipeline's on the same k frames from the stored clip
    for k in ks:
        expected = sit_to_stand_readout(_offline_first(path, "sit_to_stand", k))
        assert readouts[k].values == expected.values, k
    counts = [readouts[k].value("stands") for k in ks]
    final = tracker.readout()
    result = sit_to_stand.analyze_pose(offline)
    stored = {m.name: m.value for m in sit_to_stand.analyze(path).measures}  # from scratch
    assert result.quality.ok, result.quality.problems
    assert final.value("stands") == stored["sts_repetitions"] == script.stands
    assert final.value("sts_time") == stored["sts_time_s"]
    assert counts == sorted(counts) and counts[-1] < final.value("stands")  # the count moves on
    assert [v.label for v in final.values] == ["Stands completed", "5xSTS time"]
    first = readouts[ks[0]]  # a third in (two stands done): time since the first rise so far
    assert first.value("sts_time") == pytest.approx(first.seconds - result.signal["phases"]["rise_starts"][0],
                                                    abs=0.15)


@slow
def test_live_tug_phases_and_total_equal_the_offline_analysis(recorded):
    from core.live import tug_readout
    from core.movement import tug

    path, tracker, readouts, ks, script = recorded("tug")
    offline = _assert_live_series_is_the_offline_one(tracker, path, "tug")
    for k in ks:
        expected = tug_readout(_offline_first(path, "tug", k))
        assert readouts[k].values == expected.values, k
    stored = {m.name: m.value for m in tug.analyze(path).measures}  # from scratch
    final = tracker.readout()
    assert final.value("tug_time") == stored["tug_time_s"]
    assert final.value("stood_up_s") == stored["tug_sit_to_stand_s"]
    assert "test complete" in final.text()
    # part way (5 s and 10 s into a 15 s test): standing and walking, timed since rising began
    # (the start of rising the analysis of the whole clip finds). The sit-to-stand so far is the
    # pipeline's on those frames (checked above): dated against the standing level seen so far,
    # it moved by 0.44 s on this clip by the end, so it is labelled "so far"
    phases = tug.analyze_pose(offline).signal["phases"]
    for k in ks:
        r = readouts[k]
        assert r.value("tug_time") == pytest.approx(r.seconds - phases["rise_start"], abs=0.15)
        assert "up and walking" in r.text() or "sitting down" in r.text()
        assert 0 < r.value("stood_up_s") < r.value("tug_time")
        assert "Sit-to-stand (so far)" in r.text()


@slow
def test_live_gait_speed_steps_equal_the_offline_heel_strikes_and_give_no_speed(recorded):
    from core.live import gait_speed_readout
    from core.movement import gait_speed

    path, tracker, readouts, ks, script = recorded("gait_speed")
    offline = _assert_live_series_is_the_offline_one(tracker, path, "gait_speed")
    for k in ks:
        expected = gait_speed_readout(_offline_first(path, "gait_speed", k))
        assert readouts[k].values == expected.values, k
    result = gait_speed.analyze(path)  # from scratch, no floor marks yet: no speed
    strikes = np.sort(np.concatenate([np.asarray(v, float) for v in result.signal["heel_strikes"].values()]))
    final = tracker.readout()
    assert final.value("steps") == len(strikes) > 0
    assert final.value("walking_s") == strikes[-1] - strikes[0]
    assert final.value("speed") is None and "floor marks" in final.text()
    assert not result.measures  # the analysis has no speed either before the marks are set
    assert readouts[ks[0]].value("steps") is None or readouts[ks[0]].value("steps") <= final.value("steps")


def _no_mediapipe(monkeypatch):
    import core.movement.landmarks as landmarks

    def no_tracking(*args, **kwargs):
        raise AssertionError("MediaPipe ran again on a clip tracked live")

    monkeypatch.setattr(landmarks, "extract_pose_landmarks", no_tracking)


def _stored(sessions, data_dir, recording_id):
    from sqlalchemy import select

    from core.store import Assessment, Recording, transaction
    from core.store.files import resolve_recording_path

    with transaction(sessions) as s:
        rec = s.get(Recording, recording_id)
        stored_path = resolve_recording_path(data_dir, rec.stored_path)
        assessment = s.scalars(select(Assessment).where(Assessment.recording_id == rec.id)
                               .order_by(Assessment.id.desc())).first()
        return stored_path, {mv.name: mv.value for mv in assessment.measures}


@slow
@pytest.mark.parametrize("kind", ["sit_to_stand", "tug"])
def test_result_at_stop_uses_the_live_landmarks_and_runs_no_mediapipe(recorded, store, monkeypatch, kind):
    """add_clip with the live tracker: the cache comes from the recording, the analysis never
    tracks the clip, and its measures are those of a from-scratch analysis of the stored clip."""
    from core.analysis import analyze_recording
    from core.capture import add_clip
    from core.visits import landmark_cache_path

    sessions, admin_id, visit_id, data_dir = store
    path, tracker, _, _, _ = recorded(kind)
    with monkeypatch.context() as m:
        _no_mediapipe(m)
        t0 = time.perf_counter()
        out = add_clip(sessions, admin_id, visit_id, path.read_bytes(), f"browser-{kind}.mp4", kind, None,
                       "browser", data_dir, rescore=False, live_landmarks=tracker)
        elapsed = time.perf_counter() - t0
    assert out.status == "stored", out.message
    stored_path, measures = _stored(sessions, data_dir, out.recording_id)
    assert landmark_cache_path(stored_path).is_file()
    fresh = {m.name: m.value for m in analyze_recording(stored_path, kind, None).measures}  # no cache
    assert fresh and measures == fresh
    print(f"add_clip of {kind} with live landmarks: {elapsed:.2f} s")


@slow
def test_gait_speed_at_stop_and_its_floor_marks_run_no_mediapipe(recorded, store, monkeypatch):
    """The gait-speed clip stored with the live landmarks (no speed: no marks yet), then the
    clinician's floor marks: the speed comes from the live cache and equals a from-scratch
    analysis of the stored clip with the same marks."""
    from core.analysis import ClipSetup
    from core.capture import add_clip
    from core.movement import gait_speed
    from core.visits import landmark_cache_path, set_floor_marks

    sessions, admin_id, visit_id, data_dir = store
    path, tracker, _, _, script = recorded("gait_speed")
    with monkeypatch.context() as m:
        _no_mediapipe(m)
        out = add_clip(sessions, admin_id, visit_id, path.read_bytes(), "browser-gait_speed.mp4", "gait_speed",
                       None, "browser", data_dir, rescore=False, live_landmarks=tracker)
        assert out.status == "stored", out.message
        assert out.quality_ok is False  # no scale yet
        marked = set_floor_marks(sessions, admin_id, out.recording_id, [list(p) for p in script.marks],
                                 script.marks_distance_m, data_dir)
    stored_path, measures = _stored(sessions, data_dir, out.recording_id)
    assert landmark_cache_path(stored_path).is_file()
    assert marked.quality_ok, marked.problems
    setup = ClipSetup(marks=script.marks, marks_distance_m=script.marks_distance_m)
    fresh = {m.name: m.value for m in gait_speed.analyze(stored_path, setup=setup).measures}  # no cache
    assert "gait_speed_m_s" in fresh and measures == fresh
    assert fresh["gait_speed_m_s"] == pytest.approx(script.speed_m_s, rel=0.05)


@slow
def test_a_stored_clip_that_is_not_the_tracked_one_is_analysed_from_scratch(recorded, store):
    """The check at Stop: the 5xSTS tracker handed the TUG clip writes no cache, and add_clip then
    analyses the TUG clip from scratch (its own measures, not the tracked sitter's)."""
    from core.capture import add_clip
    from core.movement import tug

    sessions, admin_id, visit_id, data_dir = store
    tug_path, _, _, _, _ = recorded("tug")
    _, sts_tracker, _, _, _ = recorded("sit_to_stand")
    cache = tug_path.with_name("mismatch.landmarks.npz")
    assert not sts_tracker.file_matches(tug_path)
    assert sts_tracker.write_cache(tug_path, cache) is False and not cache.exists()
    out = add_clip(sessions, admin_id, visit_id, tug_path.read_bytes(), "browser-tug.mp4", "tug", None,
                   "browser", data_dir, rescore=False, live_landmarks=sts_tracker)
    assert out.status == "stored", out.message
    _, measures = _stored(sessions, data_dir, out.recording_id)
    assert measures == {m.name: m.value for m in tug.analyze(tug_path).measures}


@slow
def test_a_truncated_clip_of_the_tracked_recording_is_refused(recorded, tmp_path):
    """Fewer packets in the stored file than were tracked (a clip cut short): no cache."""
    import av

    path, tracker, _, _, _ = recorded("sit_to_stand")
    short = tmp_path / "short.mp4"
    with av.open(str(path)) as src, av.open(str(short), "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for i, packet in enumerate(src.demux(stream)):
            if packet.size == 0 or i >= 100:
                continue
            packet.stream = out
            dst.mux(packet)
    assert not tracker.file_matches(short)
    assert tracker.write_cache(short, tmp_path / "short.npz") is False
    assert not (tmp_path / "short.npz").exists()
    assert tracker.file_matches(path)  # the stored recording itself is accepted


# ---------------------------------------------------------------- readouts on synthetic poses (no video)

def _prefix(pose, seconds: float):
    """The pose series of the frames up to `seconds` (what the tracker has so far)."""
    from core.movement.landmarks import PoseSeries

    n = int(np.searchsorted(pose.times, seconds, side="right"))
    return PoseSeries(pose.times[:n], pose.landmarks[:n], pose.visibility[:n], pose.world[:n], pose.image_size,
                      pose.model, pose.people_in_view[:n])


def test_sit_to_stand_readout_counts_stands_as_they_complete():
    """SYNTHETIC 5xSTS poses (core/synthetic/outcome_poses.py, no person recorded): after each
    scripted full stand the readout has counted it, the time runs from the first rise, and at the
    end it is the analysis' sts_time_s; a person standing from the start is not timed."""
    from core.live import NOT_SEATED_AT_START, sit_to_stand_readout
    from core.movement import sit_to_stand
    from core.synthetic.outcome_poses import synthetic_sit_to_stand

    pose, truth = synthetic_sit_to_stand()
    early = sit_to_stand_readout(_prefix(pose, truth["rise_starts"][0] - 0.2))
    assert early.value("stands") == 0 and early.value("sts_time") is None
    assert "stands up" in early.text()
    for k in range(1, 5):  # between the k-th full stand and the next
        cut = 0.5 * (truth["full_stands"][k - 1] + truth["full_stands"][k])
        r = sit_to_stand_readout(_prefix(pose, cut))
        assert r.value("stands") == k, (k, r.text())
        assert r.value("sts_time") == pytest.approx(r.seconds - truth["rise_starts"][0], abs=0.2)
    final = sit_to_stand_readout(pose)
    values = sit_to_stand.analyze_pose(pose).signal["measure_values"]
    assert final.value("stands") == values["sts_repetitions"] == 5
    assert final.value("sts_time") == values["sts_time_s"]
    assert "5xSTS time" in final.text()
    standing, _ = synthetic_sit_to_stand(seated_at_start=False)
    r = sit_to_stand_readout(standing)
    assert r.value("stands") is None and NOT_SEATED_AT_START in r.text()


def test_tug_readout_follows_the_phases_and_gives_the_total_once_seated():
    from core.live import NOT_SEATED_AT_START, tug_readout
    from core.movement import tug
    from core.synthetic.outcome_poses import synthetic_tug

    pose, truth = synthetic_tug()
    seated = tug_readout(_prefix(pose, truth["rise_start"] - 0.3))
    assert "seated, waiting to stand up" in seated.text() and seated.value("tug_time") is None
    walking = tug_readout(_prefix(pose, 0.5 * (truth["standing"] + truth["turn_start"])))
    assert "up and walking" in walking.text()
    assert walking.value("stood_up_s") == pytest.approx(truth["standing"] - truth["rise_start"], abs=0.2)
    assert walking.value("tug_time") == pytest.approx(walking.seconds - truth["rise_start"], abs=0.2)
    final = tug_readout(pose)
    values = tug.analyze_pose(pose).signal["measure_values"]
    assert final.value("tug_time") == values["tug_time_s"]
    assert final.value("tug_time") == pytest.approx(truth["seated"] - truth["rise_start"], abs=0.3)
    assert "test complete" in final.text()
    standing, _ = synthetic_tug(seated_at_start=False)
    assert NOT_SEATED_AT_START in tug_readout(standing).text()


def test_readouts_say_not_yet_before_anyone_is_in_view():
    from core.live import OUTCOME_TASKS, LiveVideoTracker, POSE_READOUTS, tracker_for
    from core.synthetic.outcome_poses import synthetic_tug

    pose, _ = synthetic_tug()
    empty = _prefix(pose, pose.times[20])
    empty.landmarks[:] = np.nan
    empty.people_in_view[:] = 0
    for task in OUTCOME_TASKS:
        r = POSE_READOUTS[task](empty)
        assert all(v.value is None for v in r.values), task
        assert "no one" in r.text(), task
        tracker = tracker_for(task, None)
        try:
            assert isinstance(tracker, LiveVideoTracker)
            assert "waiting for frames" in tracker.readout().text()
        finally:
            tracker.cancel()
    assert "floor marks" in POSE_READOUTS["gait_speed"](empty).text()  # never a speed live


def _out_of_view(pose, start: float, end: float):
    inside = (pose.times > start) & (pose.times < end)
    pose.landmarks[inside] = np.nan
    pose.people_in_view[inside] = 0
    return pose


def test_a_test_the_analysis_would_refuse_is_not_timed_live():
    """SYNTHETIC poses with the person out of view for 1.2 s mid-test: the 5xSTS readout counts
    the stands but gives no time, and the TUG readout says it is not timed, as the analysis
    refuses both (no number the stored result will not have)."""
    from core.live import sit_to_stand_readout, tug_readout
    from core.movement import sit_to_stand, tug
    from core.synthetic.outcome_poses import synthetic_sit_to_stand, synthetic_tug

    pose, truth = synthetic_sit_to_stand()
    pose = _out_of_view(pose, truth["full_stands"][1] + 0.2, truth["full_stands"][1] + 1.4)
    assert not sit_to_stand.analyze_pose(pose).quality.ok
    r = sit_to_stand_readout(pose)
    assert r.value("stands") is not None and r.value("sts_time") is None
    assert "not timed: the person was out of view" in r.text()

    pose, truth = synthetic_tug()
    pose = _out_of_view(pose, truth["turn_start"] - 1.5, truth["turn_start"] - 0.3)
    result = tug.analyze_pose(pose)
    assert not result.quality.ok and not result.measures
    r = tug_readout(pose)
    assert r.value("tug_time") is None and r.value("stood_up_s") is None
    assert "not timed" in r.text() and "left the picture" in r.text()
