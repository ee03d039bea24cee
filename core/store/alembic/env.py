"""Alembic environment. core.store.db.migrate passes an open connection in
config.attributes["connection"]; the alembic command line builds one from -x url=... or the
settings. SQLite uses batch mode so that later migrations can alter tables."""
from __future__ import annotations

from alembic import context

from core.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    from core.config import settings
    from core.store.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or settings().database_url
    engine = make_engine(url)
    with engine.begin() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported: run against a database.")
run_migrations_online()
