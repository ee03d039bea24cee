"""sign-in sessions and one-time sign-in tickets

A sign-in now lasts across a reload or a new tab: the browser holds a random token in an
HTTP-only cookie and the server keeps one row per sign-in (only the token's SHA-256), ended at
logout, after the idle timeout or by an administrator. The login page hands its sign-in to the
cookie-setting route through a one-time ticket (also stored hashed, valid for a minute).

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

END_REASONS = "'logout', 'idle', 'expired', 'signed_out_everywhere', 'password_changed', 'account_inactive'"


def upgrade() -> None:
    op.create_table('sign_in_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=True),
    sa.CheckConstraint(f"end_reason IS NULL OR end_reason IN ({END_REASONS})",
                       name=op.f('ck_sign_in_sessions_end_reason_allowed')),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'],
                            name=op.f('fk_sign_in_sessions_clinician_id_clinicians')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_sessions')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_sign_in_sessions_token_sha256'))
    )
    with op.batch_alter_table('sign_in_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_sessions_clinician_id'), ['clinician_id'], unique=False)

    op.create_table('sign_in_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('ticket_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'],
                            name=op.f('fk_sign_in_tickets_clinician_id_clinicians')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_tickets')),
    sa.UniqueConstraint('ticket_sha256', name=op.f('uq_sign_in_tickets_ticket_sha256'))
    )
    with op.batch_alter_table('sign_in_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_tickets_clinician_id'), ['clinician_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_tickets_clinician_id'))
    op.drop_table('sign_in_tickets')
    with op.batch_alter_table('sign_in_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_sessions_clinician_id'))
    op.drop_table('sign_in_sessions')
