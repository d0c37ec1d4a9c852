"""linkage (联动 110/119/120): the handoffs of calls to partners, and the outbox's linkage work orders"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0025_linkage'
down_revision: str | Sequence[str] | None = '0024_unit_shares_index'


def upgrade() -> None:
    with op.batch_alter_table('exchange_outbox') as batch:
        batch.add_column(sa.Column('partner', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('service_request_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('result', sa.Text(), nullable=True))
    op.create_table(
        'linkage_handoffs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('partner', sa.String(length=8), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('agent', sa.String(length=64), nullable=False),
        sa.Column('at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_linkage_handoffs_call_id', 'linkage_handoffs', ['call_id'], unique=False)
    op.create_index('ix_linkage_handoffs_case_id', 'linkage_handoffs', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_linkage_handoffs_case_id', table_name='linkage_handoffs')
    op.drop_index('ix_linkage_handoffs_call_id', table_name='linkage_handoffs')
    op.drop_table('linkage_handoffs')
    with op.batch_alter_table('exchange_outbox') as batch:
        batch.drop_column('result')
        batch.drop_column('service_request_id')
        batch.drop_column('partner')
