"""initial schema

Revision ID: 0001
Revises: (none: the first migration)
Create Date: 2026-11-27 21:05:08.213894
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clinicians',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'clinician')", name=op.f('ck_clinicians_role_allowed')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinicians')),
    sa.UniqueConstraint('username', name=op.f('uq_clinicians_username'))
    )
    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mrn', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_lower', sa.String(length=200), nullable=False),
    sa.Column('mrn_lower', sa.String(length=32), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.String(length=16), nullable=False),
    sa.Column('diagnosis', sa.String(length=16), nullable=False),
    sa.Column('more_affected_side', sa.String(length=16), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("diagnosis IN ('pd', 'control', 'unknown')", name=op.f('ck_patients_diagnosis_allowed')),
    sa.CheckConstraint("more_affected_side IN ('left', 'right', 'none', 'unknown')", name=op.f('ck_patients_more_affected_side_allowed')),
    sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name=op.f('ck_patients_sex_allowed')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('mrn', name=op.f('uq_patients_mrn'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_mrn_lower'), ['mrn_lower'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_name_lower'), ['name_lower'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], name=op.f('fk_audit_events_clinician_id_clinicians')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_audit_events_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_patient_id'), ['patient_id'], unique=False)

    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('medication_state', sa.String(length=16), nullable=False),
    sa.Column('hours_since_dose', sa.Float(), nullable=True),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("medication_state IN ('on', 'off', 'unknown')", name=op.f('ck_visits_medication_state_allowed')),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], name=op.f('fk_visits_clinician_id_clinicians')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_visits_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_patient_id_visit_date', ['patient_id', 'visit_date'], unique=False)

    op.create_table('clinician_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rater_id'], ['clinicians.id'], name=op.f('fk_clinician_ratings_rater_id_clinicians')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_clinician_ratings_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinician_ratings')),
    sa.UniqueConstraint('visit_id', 'item', 'side', name=op.f('uq_clinician_ratings_visit_id_item_side'))
    )
    with op.batch_alter_table('clinician_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinician_ratings_visit_id'), ['visit_id'], unique=False)

    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('task', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=True),
    sa.Column('stored_path', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('quality_ok', sa.Boolean(), nullable=False),
    sa.Column('quality_json', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("side IS NULL OR side IN ('left', 'right')", name=op.f('ck_recordings_side_allowed')),
    sa.CheckConstraint("source IN ('upload', 'browser', 'import')", name=op.f('ck_recordings_source_allowed')),
    sa.CheckConstraint("status IN ('recorded', 'analysed', 'needs_retake', 'failed')", name=op.f('ck_recordings_status_allowed')),
    sa.CheckConstraint("task IN ('vowel', 'reading', 'finger_tapping', 'tremor', 'gait')", name=op.f('ck_recordings_task_allowed')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_recordings_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings')),
    sa.UniqueConstraint('visit_id', 'sha256', name=op.f('uq_recordings_visit_id_sha256'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_visit_id'), ['visit_id'], unique=False)

    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('interval_low', sa.Float(), nullable=True),
    sa.Column('interval_high', sa.Float(), nullable=True),
    sa.Column('severity', sa.Float(), nullable=True),
    sa.Column('abstained_reason', sa.Text(), nullable=True),
    sa.Column('inputs_sha256', sa.String(length=64), nullable=False),
    sa.Column('explanation_json', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_assessments_recording_id_recordings')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_assessments_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments'))
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessments_visit_id'), ['visit_id'], unique=False)

    op.create_table('measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_measures_assessment_id_assessments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measures'))
    )
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measures_assessment_id'), ['assessment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_measures_name'), ['name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measures_name'))
        batch_op.drop_index(batch_op.f('ix_measures_assessment_id'))

    op.drop_table('measures')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_visit_id'))
        batch_op.drop_index(batch_op.f('ix_assessments_recording_id'))

    op.drop_table('assessments')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_visit_id'))

    op.drop_table('recordings')
    with op.batch_alter_table('clinician_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinician_ratings_visit_id'))

    op.drop_table('clinician_ratings')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_patient_id_visit_date')

    op.drop_table('visits')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_patient_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_name_lower'))
        batch_op.drop_index(batch_op.f('ix_patients_mrn_lower'))

    op.drop_table('patients')
    op.drop_table('clinicians')
