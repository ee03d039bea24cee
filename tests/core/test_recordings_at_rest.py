"""Recordings at rest (issue 14): encryption of stored clips and side files, retention of raw
clips, deleting a patient. Real SQLite store, real public voice recording, real analysis."""
from __future__ import annotations

import base64
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.pipeline import UnusableInput
from core.store import Assessment, MeasureValue, Recording, repository, transaction
from core.store.errors import PermissionDenied
from core.store.files import (
    RecordingLocked, open_recording, read_recording_bytes, resolve_recording_path, side_files, store_recording_file,
)
from core.store.models import AuditEvent, ClinicianRating, Patient, Visit
from core.visits import add_recording_and_analyze, relabel_clip

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(FIXTURES.glob("PD_sample__AH_545692309*.wav"))  # real public recording (Iyer 2023)
HC_VOWEL = next(FIXTURES.glob("HC_sample__AH_322A*.wav"))


@pytest.fixture
def key(monkeypatch):
    value = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", value)
    monkeypatch.delenv("PDLENS_ENCRYPTION_KEY_FILE", raising=False)
    return value


def _files(data_dir: Path) -> list[Path]:
    root = data_dir / "recordings"
    return sorted(p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts)


# ---------------------------------------------------------------- encryption

def test_encrypted_round_trip_keeps_plaintext_hash_and_dedup(tmp_path, key):
    plain = PD_VOWEL.read_bytes()
    relative, sha = store_recording_file(tmp_path, PD_VOWEL, ".wav")
    import hashlib

    assert sha == hashlib.sha256(plain).hexdigest()
    stored = resolve_recording_path(tmp_path, relative).read_bytes()
    assert plain[:4096] not in stored and plain[-4096:] not in stored and b"RIFF" not in stored[:64]
    assert read_recording_bytes(tmp_path, relative) == plain
    again, sha2 = store_recording_file(tmp_path, plain, ".wav")  # same content: same path, nothing new
    assert (again, sha2) == (relative, sha) and len(_files(tmp_path)) == 1
    with open_recording(tmp_path, relative) as work:
        assert work.read_bytes() == plain and work.parent != resolve_recording_path(tmp_path, relative).parent
        workdir = work.parent
        assert (workdir.stat().st_mode & 0o077) == 0  # private to the server's user
    assert not workdir.exists()  # always removed


def test_key_file_and_bad_keys(tmp_path, monkeypatch):
    from core.store.files import encryption_key

    monkeypatch.delenv("PDLENS_ENCRYPTION_KEY", raising=False)
    raw = os.urandom(32)
    key_file = tmp_path / "clinic.key"
    key_file.write_text(base64.b64encode(raw).decode() + "\n")
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY_FILE", str(key_file))
    assert encryption_key() == raw
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="32-byte"):
        encryption_key()


def test_analysis_without_the_key_fails_clearly_and_side_files_are_encrypted(store, key, monkeypatch):
    sessions, admin_id, visit_id, data_dir = store
    outcome = add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL.read_bytes(), "vowel.wav",
                                        "vowel", None, "upload", data_dir)
    assert outcome.quality_ok and outcome.explanation["measures"]
    with transaction(sessions) as s:
        relative = s.get(Recording, outcome.recording_id).stored_path
    plain = PD_VOWEL.read_bytes()
    for path in _files(data_dir):  # the clip and any side file: none readable without the key
        assert path.read_bytes().startswith(b"PDLENS-AESGCM1\n")
        assert plain[1000:3000] not in path.read_bytes()
    # playback/analysis with the key works from memory
    assert read_recording_bytes(data_dir, relative) == plain
    monkeypatch.delenv("PDLENS_ENCRYPTION_KEY")
    with pytest.raises(RecordingLocked, match="encrypted at rest"):
        read_recording_bytes(data_dir, relative)
    with pytest.raises(UnusableInput, match="PDLENS_ENCRYPTION_KEY"):
        relabel_clip(sessions, admin_id, outcome.recording_id, "reading", None, data_dir)
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())  # wrong key
    with pytest.raises(RecordingLocked, match="wrong key"):
        read_recording_bytes(data_dir, relative)


# ---------------------------------------------------------------- retention

def _age_recordings(sessions, days: float) -> None:
    from datetime import datetime, timezone

    with transaction(sessions) as s:
        s.execute(update(Recording).values(created_at=datetime.now(timezone.utc) - timedelta(days=days)))


def test_retention_dry_run_changes_nothing_then_removes_clips_and_keeps_measures(store, monkeypatch, tmp_path):
    from core.cli import main
    from core.retention import apply_retention

    sessions, admin_id, visit_id, data_dir = store
    old = add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL.read_bytes(), "old.wav",
                                    "vowel", None, "upload", data_dir)
    _age_recordings(sessions, 40)
    new = add_recording_and_analyze(sessions, admin_id, visit_id, HC_VOWEL.read_bytes(), "new.wav",
                                    "vowel", None, "upload", data_dir)
    with transaction(sessions) as s:
        old_path = s.get(Recording, old.recording_id).stored_path
        new_path = s.get(Recording, new.recording_id).stored_path
        measures_before = s.scalar(select(func.count()).select_from(MeasureValue))
    files_before = _files(data_dir)

    monkeypatch.setenv("PDLENS_RETENTION_DAYS", "30")
    dry = apply_retention(sessions, data_dir, dry_run=True)
    assert dry.recording_ids == [old.recording_id] and dry.files == [old_path] and dry.bytes > 0
    assert _files(data_dir) == files_before
    with transaction(sessions) as s:
        assert s.get(Recording, old.recording_id).clip_removed_at is None

    url = str(sessions.kw["bind"].url)
    assert main(["retention", "--database-url", url, "--data-dir", str(data_dir)]) == 0
    assert not resolve_recording_path(data_dir, old_path).exists()
    assert side_files(resolve_recording_path(data_dir, old_path)) == []
    assert resolve_recording_path(data_dir, new_path).exists()
    with transaction(sessions) as s:
        rec = s.get(Recording, old.recording_id)
        assert rec.clip_removed_at is not None
        assert s.get(Recording, new.recording_id).clip_removed_at is None
        assert s.scalar(select(func.count()).select_from(MeasureValue)) == measures_before
        assessment = s.get(Assessment, old.assessment_id)
        assert assessment.explanation_json and assessment.explanation_json["measures"]
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "clip_removed_retention")))
        assert [e.detail for e in events] == [f"recording={old.recording_id} days=30"]
    assert apply_retention(sessions, data_dir).recording_ids == []  # idempotent


def test_retention_unset_keeps_everything_and_bad_setting_is_refused(store, monkeypatch, capsys):
    from core.cli import main
    from core.retention import apply_retention

    sessions, admin_id, visit_id, data_dir = store
    add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL.read_bytes(), "old.wav", "vowel", None,
                              "upload", data_dir)
    _age_recordings(sessions, 4000)
    monkeypatch.delenv("PDLENS_RETENTION_DAYS", raising=False)
    assert apply_retention(sessions, data_dir).files == [] and len(_files(data_dir)) >= 1
    monkeypatch.setenv("PDLENS_RETENTION_DAYS", "soon")
    url = str(sessions.kw["bind"].url)
    assert main(["retention", "--database-url", url, "--data-dir", str(data_dir)]) == 2
    assert "PDLENS_RETENTION_DAYS" in capsys.readouterr().err


# ---------------------------------------------------------------- deleting a patient

def test_deleting_a_patient_removes_rows_and_files_and_keeps_an_anonymous_audit_row(store, key):
    from core.retention import delete_patient

    sessions, admin_id, visit_id, data_dir = store
    add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL.read_bytes(), "vowel.wav",
                              "vowel", None, "upload", data_dir)
    with transaction(sessions) as s:
        admin = s.get(repository.Clinician, admin_id)
        patient_id = s.get(Visit, visit_id).patient_id
        repository.set_rating(s, admin, visit_id, "3.4", "left", 2)
        other = repository.create_patient(s, admin, mrn="SYN-002", name="Other Synthetic",
                                          birth_date=date(1960, 2, 2), sex="unknown", diagnosis="unknown",
                                          more_affected_side="unknown")
        other_visit = repository.create_visit(s, admin, other.id, visit_date=date(2024, 2, 1), medication_state="on")
        other_id, other_visit_id = other.id, other_visit.id
        reviewer = repository.create_clinician(s, admin, username="reader", display_name="Synthetic Reader",
                                               password="correct-horse-battery", role="reviewer")
        reviewer_id = reviewer.id
    # the other patient shares identical content: that file must stay
    add_recording_and_analyze(sessions, admin_id, other_visit_id, HC_VOWEL.read_bytes(), "hc.wav",
                              "vowel", None, "upload", data_dir)
    with pytest.raises(PermissionDenied):
        delete_patient(sessions, reviewer_id, patient_id, data_dir)
    from core.store import ValidationError

    with pytest.raises(ValidationError, match="does not match"):
        delete_patient(sessions, admin_id, patient_id, data_dir, confirm_mrn="SYN-999")
    with transaction(sessions) as s:
        assert s.get(Patient, patient_id) is not None  # refusals deleted nothing
        kept_path = s.scalar(select(Recording.stored_path).join(Visit).where(Visit.patient_id == other_id))
        gone_path = s.scalar(select(Recording.stored_path).join(Visit).where(Visit.patient_id == patient_id))

    counts = delete_patient(sessions, admin_id, patient_id, data_dir, confirm_mrn="SYN-001")
    assert counts["visits"] == 1 and counts["recordings"] == 1 and counts["ratings"] == 1 and counts["measures"] > 0
    assert not resolve_recording_path(data_dir, gone_path).exists()
    assert side_files(resolve_recording_path(data_dir, gone_path)) == []
    assert resolve_recording_path(data_dir, kept_path).exists()
    with transaction(sessions) as s:
        assert s.get(Patient, patient_id) is None
        assert s.scalar(select(func.count()).select_from(Visit).where(Visit.patient_id == patient_id)) == 0
        assert s.scalar(select(func.count()).select_from(ClinicianRating).where(ClinicianRating.visit_id == visit_id)) == 0
        assert s.scalar(select(func.count()).select_from(Assessment).where(Assessment.visit_id == visit_id)) == 0
        assert s.get(Patient, other_id) is not None
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "patient_deleted"))
        assert event.patient_id == patient_id and event.clinician_id == admin_id
        assert "Synthetic" not in event.detail and "SYN-001" not in event.detail
        # the audit rows about this patient from before stay, with the id only
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.patient_id == patient_id)) > 1


def test_encrypted_unusable_upload_leaves_nothing_and_the_private_copy_is_removed_on_error(store, key):
    import glob
    import tempfile

    sessions, admin_id, visit_id, data_dir = store
    pattern = os.path.join("/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir(), "pdlens-clip-*")
    before = set(glob.glob(pattern))
    with pytest.raises(UnusableInput):
        add_recording_and_analyze(sessions, admin_id, visit_id, b"this is not audio at all" * 50, "notes.wav",
                                  "vowel", None, "upload", data_dir)
    assert _files(data_dir) == []
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Recording)) == 0
    relative, _ = store_recording_file(data_dir, PD_VOWEL, ".wav")
    with pytest.raises(RuntimeError):
        with open_recording(data_dir, relative) as work:
            (work.parent / (work.name + ".landmarks.npz")).write_bytes(b"half-made cache")
            raise RuntimeError("analysis died")
    assert set(glob.glob(pattern)) == before  # no plaintext copy left behind
    assert side_files(resolve_recording_path(data_dir, relative)) == []  # a failed block writes nothing back
