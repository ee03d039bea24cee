"""physical-therapy outcome tests: three new tasks, the patient's height, a clip's set-up

Timed Up and Go, Five Times Sit to Stand and gait speed are recorded like the other tasks, so
the CHECK constraint on recordings.task admits them. Gait speed from video needs a scale: the
patient's height (patients.height_cm, optional) or two floor marks a known distance apart that
the clinician clicks on a frame (recordings.setup_json).

On SQLite a CHECK constraint changes only by copying the table; core.store.db runs the
migrations with foreign-key enforcement off for that copy and checks the keys afterwards.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TASKS = "'vowel', 'reading', 'finger_tapping', 'tremor', 'gait'"
NEW_TASKS = OLD_TASKS + ", 'tug', 'sit_to_stand', 'gait_speed'"


def _task_constraint(tasks: str) -> None:
    with op.batch_alter_table('recordings', recreate='auto') as batch:
        batch.drop_constraint(op.f('ck_recordings_task_allowed'), type_='check')
        batch.create_check_constraint(op.f('ck_recordings_task_allowed'), sa.text(f"task IN ({tasks})"))


def upgrade() -> None:
    op.add_column('patients', sa.Column('height_cm', sa.Float(), nullable=True))
    op.add_column('recordings', sa.Column('setup_json', sa.JSON(), nullable=True))
    _task_constraint(NEW_TASKS)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM measures WHERE assessment_id IN (SELECT a.id FROM assessments a JOIN recordings r "
                       "ON a.recording_id = r.id WHERE r.task IN ('tug', 'sit_to_stand', 'gait_speed'))"))
    op.execute(sa.text("DELETE FROM assessments WHERE recording_id IN (SELECT id FROM recordings "
                       "WHERE task IN ('tug', 'sit_to_stand', 'gait_speed'))"))
    op.execute(sa.text("DELETE FROM recordings WHERE task IN ('tug', 'sit_to_stand', 'gait_speed')"))
    _task_constraint(OLD_TASKS)
    with op.batch_alter_table('recordings') as batch:
        batch.drop_column('setup_json')
    with op.batch_alter_table('patients') as batch:
        batch.drop_column('height_cm')
