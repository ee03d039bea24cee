"""PostgreSQL refuses TRUNCATE of audit_events

Migration 0006 made audit_events append-only with row triggers (UPDATE, DELETE). TRUNCATE fires
no row trigger, so on PostgreSQL a BEFORE TRUNCATE statement trigger now refuses it with the same
function and message (core.store.audit). SQLite has no TRUNCATE (its "DELETE FROM" without WHERE
is refused by 0006's trigger): nothing to do there.

Revision ID: 0008_audit_truncate_guard
Revises: 0007
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.store.audit import POSTGRES_TRUNCATE_DROP, POSTGRES_TRUNCATE_GUARD

revision: str = '0008_audit_truncate_guard'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run(statements: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in statements:
        op.execute(sa.text(statement))


def upgrade() -> None:
    _run(POSTGRES_TRUNCATE_GUARD)


def downgrade() -> None:
    _run(POSTGRES_TRUNCATE_DROP)
