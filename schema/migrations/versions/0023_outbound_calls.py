"""outbound calls: a call's direction, and an outbound call's case, purpose and missed-call task (click-to-dial)"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0023_outbound_calls'
down_revision: str | Sequence[str] | None = '0022_missed_calls'


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('direction', sa.String(length=8), server_default='inbound', nullable=False))
        batch.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('purpose', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('missed_call_id', sa.Integer(), nullable=True))
        batch.create_index('ix_calls_case_id', ['case_id'], unique=False)
    with op.batch_alter_table('follow_ups') as batch:
        batch.add_column(sa.Column('call_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('follow_ups') as batch:
        batch.drop_column('call_id')
    with op.batch_alter_table('calls') as batch:
        batch.drop_index('ix_calls_case_id')
        batch.drop_column('missed_call_id')
        batch.drop_column('purpose')
        batch.drop_column('case_id')
        batch.drop_column('direction')
