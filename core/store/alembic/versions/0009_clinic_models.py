"""models tailored by each clinic: one row per trained version (core.clinic_models)

clinic_model_versions holds each trained version of a clinic's own model: target item (and
side), version number, who trained it when, a data summary (counts only), the cross-validated
metrics beside the baselines, the fitted parameters as JSON numbers (no pickle), the generated
model card, and when and by whom it was activated and deactivated; a partial unique index keeps
one active version per target. The estimates an active
version makes are ordinary visit-level assessments (model_name "clinic:<target>").

Revision ID: 0009_clinic_models
Revises: 0008_audit_truncate_guard
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_clinic_models'
down_revision: str | None = '0008_audit_truncate_guard'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'clinic_model_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('target_key', sa.String(length=48), nullable=False),
        sa.Column('target_item', sa.String(length=32), nullable=False),
        sa.Column('target_side', sa.String(length=8), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('data_summary', sa.JSON(), nullable=False),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('parameters', sa.JSON(), nullable=False),
        sa.Column('card', sa.Text(), nullable=False),
        sa.Column('beats_baseline', sa.Boolean(), nullable=False),
        sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('activated_by', sa.Integer(), nullable=True),
        sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deactivated_by', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_model_versions')),
        sa.UniqueConstraint('target_key', 'version', name=op.f('uq_clinic_model_versions_target_key_version')),
    )
    op.create_index(op.f('ix_clinic_model_versions_target_key'), 'clinic_model_versions', ['target_key'],
                    unique=False)
    active = sa.text("activated_at IS NOT NULL AND deactivated_at IS NULL")
    op.create_index('uq_clinic_model_versions_one_active', 'clinic_model_versions', ['target_key'], unique=True,
                    sqlite_where=active, postgresql_where=active)


def downgrade() -> None:
    op.drop_index('uq_clinic_model_versions_one_active', table_name='clinic_model_versions')
    op.drop_index(op.f('ix_clinic_model_versions_target_key'), table_name='clinic_model_versions')
    op.drop_table('clinic_model_versions')
