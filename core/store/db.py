"""Engines, sessions, transactions and migrations: the same code on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

STORE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = STORE_DIR / "alembic.ini"
ALEMBIC_DIR = STORE_DIR / "alembic"
SQLITE_BUSY_TIMEOUT_MS = 5000


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`. SQLite files get WAL, foreign keys and a 5 s busy timeout on every
    connection; their parent folder is created. PostgreSQL: `postgresql+psycopg://...`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config() -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    return config


# Any fixed number: the PostgreSQL advisory lock all pdlens processes take to migrate.
PG_MIGRATION_LOCK = 7_346_201


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Two processes starting at once on a new SQLite file would both see an empty schema and
    both create the tables (the second fails: "table clinicians already exists"). An exclusive
    lock on a file beside the database makes the second wait and then find the schema current."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(Path(database).expanduser().with_name(Path(database).name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sqlite_foreign_keys(connection, on: bool) -> None:
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()  # ends the transaction SQLAlchemy began for the statement


def _run_alembic(url_or_engine: str | Engine, action, revision: str) -> None:
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    sqlite = engine.url.get_backend_name() == "sqlite"
    try:
        with _sqlite_migration_lock(engine), engine.connect() as connection:
            if sqlite:
                # SQLite changes a constraint by copying the table (drop, rename), which foreign-key
                # enforcement would refuse or cascade. The pragma takes effect only outside a
                # transaction, so it is set before the migration's and reset after it on this same
                # connection; the keys are checked before the commit.
                _sqlite_foreign_keys(connection, False)
            try:
                with connection.begin():
                    if engine.url.get_backend_name() == "postgresql":  # the same, across PostgreSQL clients
                        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                    config = _alembic_config()
                    config.attributes["connection"] = connection
                    action(config, revision)
                    if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                        raise RuntimeError(f"The migration left {len(broken)} broken references: nothing was changed.")
            finally:
                if sqlite:
                    _sqlite_foreign_keys(connection, True)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def migrate(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (idempotent: nothing happens when already there)."""
    _run_alembic(url_or_engine, command.upgrade, revision)


def downgrade(url_or_engine: str | Engine, revision: str = "base") -> None:
    _run_alembic(url_or_engine, command.downgrade, revision)


def head_revision() -> str:
    """The newest migration this code ships (what `migrate` upgrades to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(url_or_engine: str | Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: pages keep using the objects they got after the transaction ends.
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back on any exception."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_stores: dict[str, sessionmaker[Session]] = {}
_stores_lock = threading.Lock()


def open_store(url: str) -> sessionmaker[Session]:
    """Engine + migrate to head, once per URL and process (safe to call at every app start)."""
    with _stores_lock:
        sessions = _stores.get(url)
        if sessions is None:
            engine = make_engine(url)
            migrate(engine)
            sessions = _stores[url] = session_factory(engine)
        return sessions


def close_store(url: str) -> None:
    """Forget a cached store and dispose of its engine (tests, demo rebuilds)."""
    with _stores_lock:
        sessions = _stores.pop(url, None)
    if sessions is not None:
        sessions.kw["bind"].dispose()
