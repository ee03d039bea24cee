"""one unsided clinician rating per visit and item

The unique constraint (visit_id, item, side) lets any number of rows with side NULL through, so
two clinicians saving an unsided item (3.1 speech, Hoehn and Yahr) at the same moment both
inserted. A partial unique index closes that; existing duplicates keep their latest row.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'uq_clinician_ratings_visit_id_item_unsided'


def upgrade() -> None:
    op.execute(
        "DELETE FROM clinician_ratings WHERE side IS NULL AND id NOT IN "
        "(SELECT max(id) FROM clinician_ratings WHERE side IS NULL GROUP BY visit_id, item)"
    )
    op.create_index(INDEX, 'clinician_ratings', ['visit_id', 'item'], unique=True,
                    sqlite_where=sa.text('side IS NULL'), postgresql_where=sa.text('side IS NULL'))


def downgrade() -> None:
    op.drop_index(INDEX, table_name='clinician_ratings')
