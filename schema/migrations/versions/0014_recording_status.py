"""recording status: a call's recording checked when the call ended (ok / failed, and why)"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014_recording_status'
down_revision: str | Sequence[str] | None = '0013_exchange_refusals'


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('recording_status', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('recording_error', sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('recording_error')
        batch.drop_column('recording_status')
