"""a unit's shares indexed with their case ids: a department's list reads its cases from the index alone"""

from collections.abc import Sequence

from alembic import op


revision: str = '0024_unit_shares_index'
down_revision: str | Sequence[str] | None = '0023_outbound_calls'


def upgrade() -> None:
    with op.batch_alter_table('dispatches') as batch:
        batch.create_index('ix_dispatches_unit_id_status_case_id', ['unit_id', 'status', 'case_id'], unique=False)
        batch.drop_index('ix_dispatches_unit_id_status')


def downgrade() -> None:
    with op.batch_alter_table('dispatches') as batch:
        batch.create_index('ix_dispatches_unit_id_status', ['unit_id', 'status'], unique=False)
        batch.drop_index('ix_dispatches_unit_id_status_case_id')
