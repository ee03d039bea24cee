"""Store fixtures: every store test runs against a real SQLite file and, when DATABASE_URL_PG
is set (scripts/pg-test-server.sh start prints it), a real PostgreSQL server."""
from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import func, select, text

from core.store import Base, make_engine, migrate, repository as repo, session_factory, transaction

PG_URL = os.environ.get("DATABASE_URL_PG")
NO_PG_REASON = "DATABASE_URL_PG is not set: start one with scripts/pg-test-server.sh start"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    """bcrypt's production work factor (12) costs ~0.3 s a hash; tests use the minimum."""
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")


def truncate_all_tables(connection) -> None:
    """Empty every pdlens table of a PostgreSQL test database. audit_events refuses TRUNCATE
    (migration 0008): the tests, as the tables' owner, lift that guard for this one statement, in
    the same transaction."""
    from core.store.audit import POSTGRES_TRUNCATE_TRIGGER, TABLE

    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    connection.execute(text(f"ALTER TABLE {TABLE} DISABLE TRIGGER {POSTGRES_TRUNCATE_TRIGGER}"))
    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    connection.execute(text(f"ALTER TABLE {TABLE} ENABLE TRIGGER {POSTGRES_TRUNCATE_TRIGGER}"))


def _reset_postgres(engine) -> None:
    with engine.begin() as connection:
        truncate_all_tables(connection)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    if not PG_URL:
        pytest.skip(NO_PG_REASON)
    return PG_URL


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    if engine.dialect.name == "postgresql":
        _reset_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
def admin(sessions):
    with transaction(sessions) as s:
        return repo.create_clinician(s, None, username="admin", display_name="Test admin",
                                     password="admin-password", role="admin")


@pytest.fixture
def patient(sessions, admin):
    with transaction(sessions) as s:
        return repo.create_patient(s, admin, mrn="SYN-0001", name="Synthetic Patient One",
                                   birth_date=date(1950, 5, 17), sex="female", diagnosis="pd",
                                   more_affected_side="left")


@pytest.fixture
def visit(sessions, admin, patient):
    with transaction(sessions) as s:
        return repo.create_visit(s, admin, patient.id, visit_date=date(2024, 3, 1), medication_state="on",
                                 hours_since_dose=2.5, notes="synthetic")


@pytest.fixture
def row_counts(sessions):
    """row_counts() -> rows in every table: compared before and after a rejected write."""

    def count() -> dict[str, int]:
        with sessions() as s:
            return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}

    return count
