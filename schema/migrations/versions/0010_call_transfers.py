"""call transfers"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0010_call_transfers'
down_revision: str | Sequence[str] | None = '0009_survey_follow_ups'


def upgrade() -> None:
    op.create_table('call_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_agent', sa.String(length=64), nullable=False),
    sa.Column('target_agent', sa.String(length=64), nullable=True),
    sa.Column('target_number', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', schema.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', schema.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', schema.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_transfers'))
    )
    with op.batch_alter_table('call_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_call_transfers_call_id', ['call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_call_transfers_call_id')

    op.drop_table('call_transfers')
