"""missed calls: the missed-call worklist (漏接回拨), one callback task per caller number a hotline missed"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0022_missed_calls'
down_revision: str | Sequence[str] | None = '0021_web_sessions'


def upgrade() -> None:
    op.create_table(
        'missed_calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('last_call_id', sa.String(length=64), nullable=False),
        sa.Column('hotline', sa.String(length=20), nullable=False),
        sa.Column('caller', sa.String(length=40), nullable=False),
        sa.Column('caller_raw', sa.String(length=64), nullable=True),
        sa.Column('open_number', sa.String(length=40), nullable=True),
        sa.Column('missed_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_missed_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('misses', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('due_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claimed_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('claim_until', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('first_attempt_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_outcome', sa.String(length=16), nullable=True),
        sa.Column('last_attempt_by', sa.String(length=64), nullable=True),
        sa.Column('notes', sa.String(length=4000), nullable=True),
        sa.Column('closed_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('closed_by_call', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('call_id'),
        sa.UniqueConstraint('open_number'),
    )
    op.create_index('ix_missed_calls_missed_at', 'missed_calls', ['missed_at'], unique=False)
    op.create_index('ix_missed_calls_status_due_at', 'missed_calls', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_missed_calls_status_due_at', table_name='missed_calls')
    op.drop_index('ix_missed_calls_missed_at', table_name='missed_calls')
    op.drop_table('missed_calls')
