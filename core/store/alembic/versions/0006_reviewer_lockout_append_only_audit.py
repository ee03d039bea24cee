"""a read-only reviewer role, sign-in lockout, an append-only audit trail

- clinicians.role admits "reviewer" (reads patients, results, trends and reports; records,
  rates, edits and exports identified data never: core.permissions).
- sign_in_throttles counts failed sign-ins per typed username (its SHA-256 only) for the
  lockout of core.store.repository.attempt_sign_in.
- audit_events becomes append-only in the database itself: triggers refuse UPDATE and DELETE
  on SQLite and PostgreSQL (core.store.audit refuses them in the ORM as well).

On SQLite the role constraint changes by copying the clinicians table; core.store.db runs the
migrations with foreign-key enforcement off for that copy and checks the keys afterwards.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.store.audit import POSTGRES_DROP, POSTGRES_TRIGGERS, SQLITE_DROP, SQLITE_TRIGGERS

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "'admin', 'clinician'"
NEW_ROLES = OLD_ROLES + ", 'reviewer'"


def _role_constraint(roles: str) -> None:
    with op.batch_alter_table('clinicians', recreate='auto') as batch:
        batch.drop_constraint(op.f('ck_clinicians_role_allowed'), type_='check')
        batch.create_check_constraint(op.f('ck_clinicians_role_allowed'), sa.text(f"role IN ({roles})"))


def _statements(create: bool) -> list[str]:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if create:
        return SQLITE_TRIGGERS if sqlite else POSTGRES_TRIGGERS
    return SQLITE_DROP if sqlite else POSTGRES_DROP


def upgrade() -> None:
    _role_constraint(NEW_ROLES)
    op.create_table('sign_in_throttles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username_sha256', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_throttles')),
    sa.UniqueConstraint('username_sha256', name=op.f('uq_sign_in_throttles_username_sha256'))
    )
    for statement in _statements(create=True):
        op.execute(sa.text(statement))


def downgrade() -> None:
    for statement in _statements(create=False):
        op.execute(sa.text(statement))
    op.drop_table('sign_in_throttles')
    # A reviewer account has no place in the old schema: it becomes a deactivated clinician
    # (its past views stay attributed to it in the audit trail).
    op.execute(sa.text("UPDATE clinicians SET role = 'clinician', active = false WHERE role = 'reviewer'"))
    _role_constraint(OLD_ROLES)
