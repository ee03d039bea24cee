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
        assert int(head_revision()) >= 4  # 0003 one current score per visit, 0004 sign-in sessions
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
