"""Migrations and connection settings on both backends."""
from __future__ import annotations

import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from core.store import Base, Visit, close_store, downgrade, make_engine, migrate, open_store, transaction
from core.store.db import current_revision, head_revision

APP_TABLES = {t.name for t in Base.metadata.sorted_tables}


def test_upgrade_from_empty_and_downgrade_to_base(db_url):
    engine = make_engine(db_url)
    try:
        downgrade(engine, "base")  # the PostgreSQL test database may hold a schema already
        assert not APP_TABLES & set(inspect(engine).get_table_names())
        migrate(engine)
        assert APP_TABLES <= set(inspect(engine).get_table_names())
        assert current_revision(engine) == head_revision()
        assert int(head_revision()[:4]) >= 4  # named "NNNN" or "NNNN_name"; 0003 one current score per visit, 0004 sign-in sessions
        migrate(engine)  # idempotent
        downgrade(engine, "base")
        assert not APP_TABLES & set(inspect(engine).get_table_names())
        assert current_revision(engine) is None
        migrate(engine)  # leave the schema in place for the other tests
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'pragmas.sqlite'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(sessions):
    with pytest.raises(IntegrityError):
        with transaction(sessions) as s:
            s.add(Visit(patient_id=999_999, visit_date=datetime.date(2024, 1, 1), medication_state="on"))


def test_open_store_migrates_once_and_is_cached(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    try:
        first = open_store(url)
        assert open_store(url) is first
        with transaction(first) as s:
            assert set(inspect(s.connection()).get_table_names()) >= APP_TABLES
    finally:
        close_store(url)


def _open_and_count(url: str) -> int:
    from sqlalchemy import func, select

    from core.store import Clinician

    sessions = open_store(url)
    with transaction(sessions) as s:
        return s.scalar(select(func.count()).select_from(Clinician))


def test_processes_starting_at_once_on_a_new_sqlite_file_migrate_it_once(tmp_path):
    """Several app processes (or test workers) opening the same new database at the same moment:
    each waits for the first one's migration and then finds the schema current."""
    import multiprocessing

    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        counts = pool.map(_open_and_count, [url] * 8)
    assert counts == [0] * 8
    assert current_revision(url) == head_revision()


def test_migration_0005_keeps_clips_and_their_references_and_admits_the_outcome_tests(db_url):
    """0005 changes the task constraint of recordings, which SQLite can only do by copying the
    table: a clip stored before it, with the assessment and measure that point at it, must come
    through unchanged, foreign keys still enforced; the new tasks are admitted, unknown ones not."""
    engine = make_engine(db_url)
    try:
        downgrade(engine, "base")
        migrate(engine, "0004")
        with engine.begin() as c:
            c.execute(text("INSERT INTO clinicians (id, username, display_name, password_hash, role, active, created_at) "
                           "VALUES (1, 'u1', 'Clinician 1', 'x', 'clinician', true, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO patients (id, mrn, name, name_lower, mrn_lower, birth_date, sex, diagnosis, "
                           "more_affected_side, archived, created_at, updated_at) VALUES (1, 'T-1', 'Test Patient', "
                           "'test patient', 't-1', '1950-01-01', 'unknown', 'pd', 'left', false, CURRENT_TIMESTAMP, "
                           "CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO visits (id, patient_id, visit_date, medication_state, notes, created_at) "
                           "VALUES (1, 1, '2026-01-01', 'on', '', CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO recordings (id, visit_id, task, stored_path, sha256, format, source, "
                           "original_name, quality_ok, status, counts, chosen, created_at) VALUES (1, 1, 'gait', "
                           "'r/1.mp4', 'ab', 'mp4', 'upload', '', true, 'analysed', true, false, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO assessments (id, visit_id, recording_id, model_name, model_version, "
                           "inputs_sha256, created_at) VALUES (1, 1, 1, 'gait', '2', 'ab', CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO measures (id, assessment_id, name, value, unit) "
                           "VALUES (1, 1, 'stride_time_s', 1.1, 's')"))
        migrate(engine)
        with engine.begin() as c:
            assert c.execute(text("SELECT task, counts FROM recordings WHERE id = 1")).one() == ("gait", True)
            assert c.execute(text("SELECT a.recording_id FROM assessments a JOIN measures m ON m.assessment_id = a.id")
                             ).scalar() == 1
            c.execute(text("INSERT INTO recordings (id, visit_id, task, stored_path, sha256, format, source, "
                           "original_name, quality_ok, status, counts, chosen, created_at) VALUES (2, 1, 'tug', "
                           "'r/2.mp4', 'cd', 'mp4', 'upload', '', true, 'analysed', true, false, CURRENT_TIMESTAMP)"))
        with pytest.raises(IntegrityError):
            with engine.begin() as c:
                c.execute(text("INSERT INTO recordings (id, visit_id, task, stored_path, sha256, format, source, "
                               "original_name, quality_ok, status, counts, chosen, created_at) VALUES (3, 1, 'juggling', "
                               "'r/3.mp4', 'ef', 'mp4', 'upload', '', true, 'analysed', true, false, CURRENT_TIMESTAMP)"))
        with pytest.raises(IntegrityError):  # foreign keys enforced again after the copy
            with engine.begin() as c:
                c.execute(text("INSERT INTO assessments (id, visit_id, recording_id, model_name, model_version, "
                               "inputs_sha256, created_at) VALUES (9, 1, 999, 'gait', '2', 'ab', CURRENT_TIMESTAMP)"))
        downgrade(engine, "0004")  # the outcome-test clip goes, the gait clip stays
        with engine.begin() as c:
            assert c.execute(text("SELECT id FROM recordings")).scalars().all() == [1]
        downgrade(engine, "base")
        migrate(engine)  # leave the schema in place for the other tests
    finally:
        engine.dispose()
