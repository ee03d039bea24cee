"""Floor marks of a gait-speed clip on a real SQLite store: validated, stored with the clip, the clip
analysed again from its landmark cache (new assessment, the old one kept as history), audited
without free text, cleared again. The clip is a real encoded video of an empty SYNTHETIC walkway;
its landmark cache is then replaced by a SYNTHETIC walker's pose series (no person recorded), as
MediaPipe would have written it for a real walk."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from core.pipeline import UnusableInput
from core.store import Assessment, AuditEvent, Clinician, Recording, ValidationError, repository, transaction
from core.store.files import is_encrypted, resolve_recording_path
from core.synthetic.video import write_video
from core.visits import (add_recording_and_analyze, clear_floor_marks, clip_setup, floor_marks_frame,
                         floor_marks_jpeg, landmark_cache_path, measure_clip_again, set_floor_marks)
from tests.core.movement.test_gait_speed import synthetic_10m_walk


def empty_walkway(path, seconds=3.5, fps=15):
    """A SYNTHETIC still picture of a floor with two dark marks, nobody in it."""
    frame = np.full((240, 320, 3), 170, np.uint8)
    frame[150:, :] = 120  # floor
    frame[150:, 60:64] = 30
    frame[150:, 256:260] = 30
    write_video(path, (frame for _ in range(int(seconds * fps))), fps=fps)
    return path


@pytest.fixture
def walk_clip(store, tmp_path):
    """A gait-speed clip stored on the visit, whose landmark cache holds a synthetic 1.2 m/s walk."""
    sessions, admin_id, visit_id, data_dir = store
    clip = empty_walkway(tmp_path / "walkway.mp4")
    added = add_recording_and_analyze(sessions, admin_id, visit_id, clip, "walk.mp4", "gait_speed", None,
                                      "upload", data_dir)
    assert not added.quality_ok  # nobody in view, and no scale
    with transaction(sessions) as s:
        stored = resolve_recording_path(data_dir, s.get(Recording, added.recording_id).stored_path)
    pose, project = synthetic_10m_walk(speed=1.2, cadence=110.0)
    pose.save_series(landmark_cache_path(stored))
    return added, project, stored


def _audit(sessions, action):
    with transaction(sessions) as s:
        return s.scalars(select(AuditEvent.detail).where(AuditEvent.action == action)).all()


def test_marks_are_stored_and_the_clip_is_measured_again(store, walk_clip):
    sessions, admin_id, visit_id, data_dir = store
    added, project, stored = walk_clip
    marks = (project(-3.0), project(3.0))
    outcome = set_floor_marks(sessions, admin_id, added.recording_id, marks, 6.0, data_dir)
    assert outcome.quality_ok, outcome.problems
    assert outcome.assessment_id != added.assessment_id
    with transaction(sessions) as s:
        rec = s.get(Recording, added.recording_id)
        assert rec.setup_json == {"marks": [list(marks[0]), list(marks[1])], "marks_distance_m": 6.0}
        assert rec.quality_ok and rec.status == "analysed"
        assert clip_setup(s, visit_id, rec).marks == marks
        history = s.scalars(select(Assessment).where(Assessment.recording_id == rec.id).order_by(Assessment.id)).all()
        assert [a.superseded_at is None for a in history] == [False, True]
        speed = {m.name: m.value for m in history[-1].measures}["gait_speed_m_s"]
        assert speed == pytest.approx(1.2, rel=0.05)
    assert _audit(sessions, "set_floor_marks") == [f"visit={visit_id} recording={added.recording_id} distance_m=6"]

    # cleared: no marks, no height on the record -> refused for want of a scale
    cleared = clear_floor_marks(sessions, admin_id, added.recording_id, data_dir)
    assert not cleared.quality_ok and any("patient's height" in p for p in cleared.problems)
    with transaction(sessions) as s:
        rec = s.get(Recording, added.recording_id)
        assert rec.setup_json is None and rec.status == "needs_retake"
    assert _audit(sessions, "clear_floor_marks") == [f"visit={visit_id} recording={added.recording_id}"]


def test_a_height_entered_later_scales_the_clip_measured_again(store, walk_clip):
    sessions, admin_id, visit_id, data_dir = store
    added, _, _ = walk_clip
    with transaction(sessions) as s:
        admin = s.get(Clinician, admin_id)
        patient_id = repository.get_visit(s, admin, visit_id).patient_id
        repository.update_patient(s, admin, patient_id, height_cm=170.0)
    outcome = measure_clip_again(sessions, admin_id, added.recording_id, data_dir)
    assert outcome.quality_ok, outcome.problems
    assert _audit(sessions, "measure_clip_again") == [f"visit={visit_id} recording={added.recording_id}"]
    with transaction(sessions) as s:
        a = s.get(Assessment, outcome.assessment_id)
        values = {m.name: m.value for m in a.measures}
    u = values["gait_speed_uncertainty_pct"]
    assert abs(values["gait_speed_m_s"] - 1.2) <= u / 100 * 1.2


BAD_MARKS = [
    (((0.1, 0.8), (1.2, 0.8)), 6.0, "inside the picture"),
    (((0.1, 0.8),), 6.0, "inside the picture"),
    ("0.1,0.8,0.9,0.8", 6.0, "inside the picture"),
    (((0.3, 0.8), (0.3, 0.8)), 6.0, "same point"),
    (((0.1, 0.8), (0.9, 0.8)), 0.5, "1-20 m"),
    (((0.1, 0.8), (0.9, 0.8)), 25.0, "1-20 m"),
    (((0.1, 0.8), (0.9, 0.8)), "six", "1-20 m"),
]


def test_bad_marks_are_refused_and_nothing_changes(store, walk_clip):
    sessions, admin_id, _, data_dir = store
    added, _, _ = walk_clip
    for marks, distance, message in BAD_MARKS:
        with pytest.raises(ValidationError, match=message):
            set_floor_marks(sessions, admin_id, added.recording_id, marks, distance, data_dir)
    with transaction(sessions) as s:
        assert s.get(Recording, added.recording_id).setup_json is None
        assert len(s.scalars(select(Assessment).where(Assessment.recording_id == added.recording_id)).all()) == 1
    assert _audit(sessions, "set_floor_marks") == []


def test_marks_only_for_gait_speed_clips(store, tmp_path):
    sessions, admin_id, visit_id, data_dir = store
    clip = empty_walkway(tmp_path / "other.mp4")
    added = add_recording_and_analyze(sessions, admin_id, visit_id, clip, "gait.mp4", "gait", None, "upload", data_dir)
    with pytest.raises(ValidationError, match="Gait speed"):
        set_floor_marks(sessions, admin_id, added.recording_id, ((0.1, 0.8), (0.9, 0.8)), 6.0, data_dir)


def test_a_frame_to_click_exists_even_when_the_clip_failed(store, walk_clip):
    _, _, _, data_dir = store
    _, _, stored = walk_clip
    if is_encrypted(stored):  # the clinic's key is set in this environment: the next test's case
        pytest.skip("the clip is encrypted at rest: test_a_frame_to_click_is_shown_for_a_clip_encrypted_at_rest")
    frame = floor_marks_frame(stored)
    assert frame is not None and frame.is_file()
    from PIL import Image

    with Image.open(frame) as image:
        assert image.size == (320, 240)
        assert np.asarray(image)[200, 62].mean() < 80  # the synthetic mark is where it was drawn
    assert floor_marks_frame(stored) == frame  # decoded once
    assert floor_marks_jpeg(data_dir, stored.relative_to(data_dir.resolve())) == frame.read_bytes()


@pytest.fixture
def key(monkeypatch):
    import base64
    import os

    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())


@pytest.fixture
def encrypted_walk_clip(key, walk_clip):
    """walk_clip, stored while the clinic's encryption key is set (key comes first)."""
    return walk_clip


def test_a_frame_to_click_is_shown_for_a_clip_encrypted_at_rest(store, encrypted_walk_clip, monkeypatch):
    from io import BytesIO

    from PIL import Image

    _, _, _, data_dir = store
    _, _, stored = encrypted_walk_clip
    assert is_encrypted(stored)
    relative = stored.relative_to(data_dir.resolve()).as_posix()
    jpeg = floor_marks_jpeg(data_dir, relative)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    with Image.open(BytesIO(jpeg)) as image:
        assert image.size == (320, 240)
        assert np.asarray(image)[200, 62].mean() < 80  # the synthetic mark, decoded from the decrypted clip
    saved = stored.with_name(stored.name + ".marksframe.jpg")
    assert saved.is_file() and is_encrypted(saved)  # kept with the clip, encrypted like it
    assert jpeg not in saved.read_bytes()
    stamp = saved.stat().st_mtime_ns
    assert floor_marks_jpeg(data_dir, relative) == jpeg and saved.stat().st_mtime_ns == stamp  # decoded once
    monkeypatch.delenv("PDLENS_ENCRYPTION_KEY")
    assert floor_marks_jpeg(data_dir, relative) is None  # without the key: no frame, the page says so


def test_a_missing_file_cannot_be_analysed_again(store, walk_clip):
    sessions, admin_id, _, data_dir = store
    added, _, stored = walk_clip
    stored.unlink()
    with pytest.raises(UnusableInput, match="missing"):
        set_floor_marks(sessions, admin_id, added.recording_id, ((0.1, 0.8), (0.9, 0.8)), 6.0, data_dir)
