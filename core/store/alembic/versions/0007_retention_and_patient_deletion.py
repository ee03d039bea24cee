"""recordings removed by the retention policy; audit rows that outlive a deleted patient

- recordings.clip_removed_at: when core.retention deleted the raw clip and its side files
  (measures, scores and explanations are kept; pages say the clip was removed by the policy).
- audit_events.patient_id and clinician_id become plain integers (their foreign keys are
  dropped), so that deleting a patient (core.retention.delete_patient) keeps the audit trail,
  which then holds the deleted patient's id only.

On SQLite the foreign keys go by copying audit_events; its append-only triggers are dropped
before the copy and made again after it (the rows themselves are copied unchanged).

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.store.audit import POSTGRES_DROP, POSTGRES_TRIGGERS, SQLITE_DROP, SQLITE_TRIGGERS

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEYS = [
    ('fk_audit_events_clinician_id_clinicians', 'clinician_id', 'clinicians'),
    ('fk_audit_events_patient_id_patients', 'patient_id', 'patients'),
]


def _triggers(create: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    statements = (SQLITE_TRIGGERS if sqlite else POSTGRES_TRIGGERS) if create else (
        SQLITE_DROP if sqlite else POSTGRES_DROP)
    for statement in statements:
        op.execute(sa.text(statement))


def upgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        batch.add_column(sa.Column('clip_removed_at', sa.DateTime(timezone=True), nullable=True))
    _triggers(create=False)
    with op.batch_alter_table('audit_events') as batch:
        for name, _column, _table in FOREIGN_KEYS:
            batch.drop_constraint(op.f(name), type_='foreignkey')
    _triggers(create=True)


def downgrade() -> None:
    orphans = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_events WHERE patient_id IS NOT NULL "
        "AND patient_id NOT IN (SELECT id FROM patients)")).scalar()
    if orphans:
        raise RuntimeError(f"{orphans} audit rows name deleted patients; the old schema cannot hold them "
                           "(its foreign key would refuse them) and audit rows are never changed.")
    _triggers(create=False)
    with op.batch_alter_table('audit_events') as batch:
        for name, column, table in FOREIGN_KEYS:
            batch.create_foreign_key(op.f(name), table, [column], ['id'])
    _triggers(create=True)
    with op.batch_alter_table('recordings') as batch:
        batch.drop_column('clip_removed_at')
