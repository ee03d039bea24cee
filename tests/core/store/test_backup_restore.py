"""Backup and restore (issue 14): the database (SQLite online backup API, pg_dump/pg_restore)
and the recordings folder, with a manifest; a round trip onto a fresh data dir and database;
refusal to overwrite a clinic that has data. Real SQLite files, real PostgreSQL when
DATABASE_URL_PG is set, real (encrypted) recording files."""
from __future__ import annotations

import base64
import json
import os
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from core.backup import MANIFEST, BackupError, backup, clinic_has_data, restore, table_counts
from core.cli import main
from core.store import Base, close_store, make_engine, open_store, repository as repo, transaction
from core.store.files import read_recording_bytes, store_recording_file, write_stored_file
from core.store.models import AuditEvent, Patient, Recording

PG_URL = os.environ.get("DATABASE_URL_PG")
NO_PG_REASON = "DATABASE_URL_PG is not set: start one with scripts/pg-test-server.sh start"
VOWEL = next((Path(__file__).resolve().parents[2] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def _wipe_postgres(url: str) -> None:
    """A fresh server: no pdlens table, no migration record, no trigger function."""
    engine = make_engine(url)
    with engine.begin() as c:
        Base.metadata.drop_all(c)
        c.execute(text("DROP TABLE IF EXISTS alembic_version"))
        c.execute(text("DROP FUNCTION IF EXISTS pdlens_audit_append_only() CASCADE"))
    engine.dispose()


def _clinic(url: str, data_dir: Path) -> dict:
    """A clinic with an admin, two patients, a visit and one stored (encrypted) recording."""
    sessions = open_store(url)
    relative, sha = store_recording_file(data_dir, VOWEL, ".wav")
    write_stored_file((data_dir / relative).with_name(Path(relative).name + ".keyframe.jpg"), b"side file")
    with transaction(sessions) as s:
        admin = repo.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                      password="correct-horse-battery", role="admin")
        p = repo.create_patient(s, admin, mrn="SYN-001", name="Synthetic Patient", birth_date=date(1950, 1, 1),
                                sex="unknown", diagnosis="unknown", more_affected_side="unknown")
        repo.create_patient(s, admin, mrn="SYN-002", name="Second Synthetic", birth_date=date(1951, 1, 1),
                            sex="unknown", diagnosis="unknown", more_affected_side="unknown")
        v = repo.create_visit(s, admin, p.id, visit_date=date(2024, 1, 5), medication_state="on")
        repo.add_recording(s, admin, v.id, task="vowel", side=None, stored_path=relative, sha256=sha,
                           duration_s=3.0, format="wav", source="upload", original_name="vowel.wav",
                           quality_ok=True, quality_json={}, status="analysed")
    close_store(url)
    return {"relative": relative, "counts": table_counts(url)}


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")


def _round_trip(source_url: str, target_url: str, tmp_path: Path, wipe=None) -> None:
    src_data, dst_data, dest = tmp_path / "data", tmp_path / "fresh-machine" / "data", tmp_path / "backup"
    made = _clinic(source_url, src_data)
    assert main(["backup", "--database-url", source_url, "--data-dir", str(src_data), str(dest)]) == 0
    manifest = json.loads((dest / MANIFEST).read_text())
    assert manifest["row_counts"]["patients"] == 2 and manifest["row_counts"]["recordings"] == 1
    assert manifest["schema_revision"] and manifest["encrypted_files"] == 2 and manifest["versions"]["python"]
    assert set(manifest["recording_files"]) == {made["relative"].split("/", 1)[1],
                                                made["relative"].split("/", 1)[1] + ".keyframe.jpg"}
    if wipe:
        wipe()
    assert not clinic_has_data(target_url)
    assert main(["restore", "--database-url", target_url, "--data-dir", str(dst_data), str(dest)]) == 0
    assert table_counts(target_url) == made["counts"]
    assert read_recording_bytes(dst_data, made["relative"]) == VOWEL.read_bytes()
    sessions = open_store(target_url)  # the app opens the restored clinic and signs in
    try:
        with transaction(sessions) as s:
            assert repo.authenticate(s, "admin", "correct-horse-battery") is not None
            assert sorted(p.mrn for p in s.query(Patient)) == ["SYN-001", "SYN-002"]
            assert s.query(Recording).one().stored_path == made["relative"]
            assert s.query(AuditEvent).count() == made["counts"]["audit_events"] + 1  # + this sign-in
    finally:
        close_store(target_url)


def test_sqlite_round_trip_to_a_fresh_machine(tmp_path, key):
    _round_trip(f"sqlite:///{tmp_path / 'clinic.sqlite'}", f"sqlite:///{tmp_path / 'new' / 'clinic.sqlite'}",
                tmp_path)


@pytest.mark.postgres
def test_postgres_round_trip(tmp_path, key):
    if not PG_URL:
        pytest.skip(NO_PG_REASON)
    _wipe_postgres(PG_URL)
    try:
        _round_trip(PG_URL, PG_URL, tmp_path, wipe=lambda: _wipe_postgres(PG_URL))
    finally:
        _wipe_postgres(PG_URL)


def test_restore_refuses_a_clinic_with_data_unless_forced(tmp_path, key, capsys):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    made = _clinic(url, tmp_path / "data")
    dest = tmp_path / "backup"
    backup(url, tmp_path / "data", dest)
    other_url, other_data = f"sqlite:///{tmp_path / 'other.sqlite'}", tmp_path / "other-data"
    sessions = open_store(other_url)
    with transaction(sessions) as s:
        repo.create_clinician(s, None, username="someone", display_name="Other Admin",
                              password="correct-horse-battery", role="admin")
    close_store(other_url)
    stray = other_data / "recordings" / "ab" / "stray.wav"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"a file of the replaced clinic")
    before = table_counts(other_url)
    assert main(["restore", "--database-url", other_url, "--data-dir", str(other_data), str(dest)]) == 2
    assert "--force" in capsys.readouterr().err
    assert table_counts(other_url) == before and stray.exists()  # nothing changed
    assert main(["restore", "--database-url", other_url, "--data-dir", str(other_data), str(dest), "--force"]) == 0
    assert table_counts(other_url) == made["counts"] and not stray.exists()


def test_damaged_backup_and_existing_destination_are_refused(tmp_path, key):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    made = _clinic(url, tmp_path / "data")
    dest = tmp_path / "backup"
    backup(url, tmp_path / "data", dest)
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(url, tmp_path / "data", dest)
    clip = dest / "recordings" / made["relative"].split("/", 1)[1]
    clip.write_bytes(clip.read_bytes()[:-10])
    target = f"sqlite:///{tmp_path / 'new.sqlite'}"
    with pytest.raises(BackupError, match="damaged"):
        restore(target, tmp_path / "new-data", dest)
    assert not clinic_has_data(target) and not (tmp_path / "new-data").exists()


def test_sqlite_backup_is_consistent_while_the_app_writes(tmp_path, key):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    _clinic(url, tmp_path / "data")
    sessions = open_store(url)
    stop = threading.Event()

    def writer():
        with transaction(sessions) as s:
            admin = repo.authenticate(s, "admin", "correct-horse-battery")
        n = 0
        while not stop.is_set():
            with transaction(sessions) as s:
                repo.create_patient(s, admin, mrn=f"LOAD-{n}", name="Load Synthetic", birth_date=date(1950, 1, 1),
                                    sex="unknown", diagnosis="unknown", more_affected_side="unknown")
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        manifest = backup(url, tmp_path / "data", tmp_path / "backup")
    finally:
        stop.set()
        thread.join()
        close_store(url)
    restored = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    restore(restored, tmp_path / "restored-data", tmp_path / "backup")
    counts = table_counts(restored)
    assert counts == manifest["row_counts"]
    engine = make_engine(restored)
    with engine.connect() as c:  # every patient the snapshot holds has its audit row: one transaction each
        created = c.execute(text("SELECT count(*) FROM audit_events WHERE action = 'create_patient'")).scalar()
        assert c.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    assert created == counts["patients"]


@pytest.mark.postgres
def test_postgres_backup_is_one_snapshot_while_the_app_writes(tmp_path, key):
    if not PG_URL:
        pytest.skip(NO_PG_REASON)
    _wipe_postgres(PG_URL)
    try:
        _clinic(PG_URL, tmp_path / "data")
        sessions = open_store(PG_URL)
        stop = threading.Event()

        def writer():
            with transaction(sessions) as s:
                admin = repo.authenticate(s, "admin", "correct-horse-battery")
            n = 0
            while not stop.is_set():
                with transaction(sessions) as s:
                    repo.create_patient(s, admin, mrn=f"LOAD-{n}", name="Load Synthetic",
                                        birth_date=date(1950, 1, 1), sex="unknown", diagnosis="unknown",
                                        more_affected_side="unknown")
                n += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            manifest = backup(PG_URL, tmp_path / "data", tmp_path / "backup")
        finally:
            stop.set()
            thread.join()
            close_store(PG_URL)
        assert table_counts(PG_URL)["patients"] >= manifest["row_counts"]["patients"]
        _wipe_postgres(PG_URL)
        restore(PG_URL, tmp_path / "restored-data", tmp_path / "backup")
        counts = table_counts(PG_URL)
        assert counts == manifest["row_counts"]
        engine = make_engine(PG_URL)
        with engine.connect() as c:
            created = c.execute(text("SELECT count(*) FROM audit_events WHERE action = 'create_patient'")).scalar()
        engine.dispose()
        assert created == counts["patients"]
    finally:
        _wipe_postgres(PG_URL)
