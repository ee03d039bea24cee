"""one current score per visit and the clip that counts

Every upload used to add a new combined (fused) assessment to its visit, and every page read
"all of them": trends averaged 16 combined scores of one visit, exports held 16 rows. From now
on an assessment replaced by a newer one (a new combined score, a re-analysed or relabelled
clip) is kept as history with `superseded_at` set, and per task and side exactly one clip of a
visit `counts` (the clinician's `chosen` clip, else the latest one that passed its quality
check; an `excluded_reason` keeps a clip out).

The data step cleans existing databases: per visit only the newest combined score stays
current (visit-level rows of other models, such as imported measures, are left alone), per clip only its newest assessment, and per visit, task and side the newest clip that
passed its quality check counts.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch table copy): SQLite cannot drop and recreate a table that
    # other tables reference while foreign keys are enforced.
    op.add_column('assessments', sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_assessments_superseded_at'), 'assessments', ['superseded_at'], unique=False)
    op.add_column('recordings', sa.Column('counts', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('recordings', sa.Column('chosen', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('recordings', sa.Column('excluded_reason', sa.Text(), nullable=True))

    now = datetime.now(timezone.utc)
    assessments = sa.table('assessments', sa.column('id', sa.Integer), sa.column('visit_id', sa.Integer),
                           sa.column('recording_id', sa.Integer), sa.column('model_name', sa.String),
                           sa.column('superseded_at', sa.DateTime(timezone=True)))
    recordings = sa.table('recordings', sa.column('id', sa.Integer), sa.column('visit_id', sa.Integer),
                          sa.column('task', sa.String), sa.column('side', sa.String),
                          sa.column('quality_ok', sa.Boolean), sa.column('counts', sa.Boolean))
    # per visit and model: a visit's imported measures (model "imported") are not replaced by
    # its combined score, only older combined scores are
    newest_visit_score = (sa.select(sa.func.max(assessments.c.id)).where(assessments.c.recording_id.is_(None))
                          .group_by(assessments.c.visit_id, assessments.c.model_name))
    op.execute(assessments.update()
               .where(assessments.c.recording_id.is_(None), assessments.c.id.not_in(newest_visit_score))
               .values(superseded_at=now))
    newest_per_clip = (sa.select(sa.func.max(assessments.c.id)).where(assessments.c.recording_id.is_not(None))
                       .group_by(assessments.c.recording_id))
    op.execute(assessments.update()
               .where(assessments.c.recording_id.is_not(None), assessments.c.id.not_in(newest_per_clip))
               .values(superseded_at=now))
    newest_good_clip = (sa.select(sa.func.max(recordings.c.id)).where(recordings.c.quality_ok.is_(True))
                        .group_by(recordings.c.visit_id, recordings.c.task, sa.func.coalesce(recordings.c.side, '')))
    op.execute(recordings.update().where(recordings.c.id.in_(newest_good_clip)).values(counts=True))


def downgrade() -> None:
    op.drop_column('recordings', 'excluded_reason')
    op.drop_column('recordings', 'chosen')
    op.drop_column('recordings', 'counts')
    op.drop_index(op.f('ix_assessments_superseded_at'), table_name='assessments')
    op.drop_column('assessments', 'superseded_at')
