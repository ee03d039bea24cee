"""Encryption at rest and retention seen through the results page (issue 14): a movement clip
stored encrypted has an encrypted landmark cache and key frame, the page still shows the key
frame and the spectrogram (decrypted in memory / a private temp dir), and after the retention
policy removed the clips the page says so and keeps the measures. Real dashboard (AppTest),
real SQLite, real vowel recording and, in the slow test, a synthetic tapping video through real
MediaPipe."""
from __future__ import annotations

import base64
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.config import settings
from core.store import Clinician, Recording, open_store, repository, transaction
from core.store.files import MAGIC
from core.visits import add_recording_and_analyze
from tests.dashboard.conftest import charts, open_page, signed_in_app, texts

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def _stored(data_dir: Path) -> list[Path]:
    root = data_dir / "recordings"
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"]


def trace_types(fig: dict) -> set[str]:
    return {t.get("type") for t in fig.get("data", [])}


@pytest.fixture
def clinic(admin_db, monkeypatch):
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    sessions = open_store(admin_db)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician))
        patient = repository.create_patient(s, admin, mrn="SYN-043", name="Synthetic Encrypted",
                                            birth_date=date(1948, 3, 1), sex="unknown", diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 6, 1), medication_state="on")
        return sessions, admin.id, visit.id


@pytest.mark.slow
def test_encrypted_tapping_clip_side_files_and_page_then_retention(clinic, tmp_path, monkeypatch):
    from core.retention import apply_retention
    from tests.fixtures.fused.clips import write_tapping_clip

    sessions, admin_id, visit_id = clinic
    data_dir = settings().data_dir
    clip = write_tapping_clip(tmp_path / "synthetic_tapping.mp4", seconds=10.0)
    add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "v.wav", "vowel", None, "upload", data_dir)
    tap = add_recording_and_analyze(sessions, admin_id, visit_id, clip, "tap.mp4", "finger_tapping", "left",
                                    "upload", data_dir)
    assert tap.quality_ok, tap.message
    stored = _stored(data_dir)
    names = [p.name for p in stored]
    assert any(n.endswith(".landmarks.npz") for n in names) and any(n.endswith(".keyframe.jpg") for n in names)
    for p in stored:  # clips, landmark cache, key frame: all encrypted
        assert p.read_bytes().startswith(MAGIC), p.name
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    assert any("image" in trace_types(f) for f in charts(at))  # the key frame, decrypted in memory

    with transaction(sessions) as s:
        s.execute(update(Recording).values(created_at=datetime.now(timezone.utc) - timedelta(days=10)))
    report = apply_retention(sessions, data_dir, days=5)
    assert len(report.recording_ids) == 2
    assert not _stored(data_dir)
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    page = texts(at)
    assert page.count("Clip removed by the retention policy") == 2
    assert "Tapping amplitude" in page  # measures kept


def test_vowel_page_after_retention_says_the_clip_was_removed(clinic):
    from core.retention import apply_retention

    sessions, admin_id, visit_id = clinic
    add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "v.wav", "vowel", None, "upload",
                              settings().data_dir)
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception and "retention policy" not in texts(at)
    with transaction(sessions) as s:
        s.execute(update(Recording).values(created_at=datetime.now(timezone.utc) - timedelta(days=10)))
    apply_retention(sessions, settings().data_dir, days=5)
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    assert "Clip removed by the retention policy" in texts(at)
