"""Deleting a patient and the retention policy on both backends (issue 14): the foreign keys of
audit_events are gone (migration 0007), so the trail outlives the patient; rows and files go.
Real SQLite file and, with DATABASE_URL_PG, real PostgreSQL; real files on disk."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from core.retention import apply_retention, delete_patient
from core.store import Assessment, MeasureValue, Patient, Recording, Visit, repository as repo, transaction
from core.store.files import resolve_recording_path, store_recording_file
from core.store.models import AuditEvent, ClinicianRating
from core.pipeline import Measure


def _recorded_visit(sessions, admin, visit, data_dir, content: bytes) -> tuple[int, str]:
    relative, sha = store_recording_file(data_dir, content, ".wav")
    resolve_recording_path(data_dir, relative).with_name(relative.rsplit("/", 1)[1] + ".landmarks.npz").write_bytes(b"x")
    with transaction(sessions) as s:
        rec = repo.add_recording(s, admin, visit.id, task="vowel", side=None, stored_path=relative, sha256=sha,
                                 duration_s=3.0, format="wav", source="upload", original_name="v.wav",
                                 quality_ok=True, quality_json={}, status="analysed")
        repo.save_assessment(s, admin, visit_id=visit.id, recording_id=rec.id, model_name="m", model_version="1",
                             probability=0.4, interval=(0.3, 0.5), severity=None, abstained_reason=None,
                             inputs_sha256=sha, explanation={"measures": []},
                             measures=[Measure(name="jitter_local", label="Jitter", value=0.01, unit="%")])
        repo.set_rating(s, admin, visit.id, "3.4", "left", 2)
        return rec.id, relative


def test_delete_patient_on_each_backend(sessions, admin, patient, visit, tmp_path):
    data_dir = tmp_path / "data"
    rec_id, relative = _recorded_visit(sessions, admin, visit, data_dir, b"RIFF synthetic bytes")
    counts = delete_patient(sessions, admin, patient.id, data_dir)
    assert counts["recordings"] == 1 and counts["measures"] == 1 and counts["ratings"] == 1
    assert not list((data_dir / "recordings").rglob("*.wav*"))
    with transaction(sessions) as s:
        for model in (Patient, Visit, Recording, Assessment, MeasureValue, ClinicianRating):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model.__name__
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id)))
        assert rows and rows[-1].action == "patient_deleted"
        assert all("Synthetic" not in r.detail and "SYN-0001" not in r.detail for r in rows)


def test_retention_on_each_backend(sessions, admin, patient, visit, tmp_path):
    data_dir = tmp_path / "data"
    rec_id, relative = _recorded_visit(sessions, admin, visit, data_dir, b"RIFF other synthetic bytes")
    with transaction(sessions) as s:
        s.execute(update(Recording).values(created_at=datetime.now(timezone.utc) - timedelta(days=3)))
    assert apply_retention(sessions, data_dir, days=7).recording_ids == []  # not due yet
    assert apply_retention(sessions, data_dir, days=2, dry_run=True).recording_ids == [rec_id]
    assert resolve_recording_path(data_dir, relative).exists()
    report = apply_retention(sessions, data_dir, days=2)
    assert report.recording_ids == [rec_id] and report.files == [relative]
    assert not list((data_dir / "recordings").rglob("*.wav*"))
    with transaction(sessions) as s:
        assert s.get(Recording, rec_id).clip_removed_at is not None
        assert s.scalar(select(func.count()).select_from(MeasureValue)) == 1
