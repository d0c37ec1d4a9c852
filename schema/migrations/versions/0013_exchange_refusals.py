"""exchange refusals: an outbox message the hotline's own system refused for good, with its GeoReport v2
errors, a request accepted with a token, and the refusal shown on the case
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0013_exchange_refusals'
down_revision: str | Sequence[str] | None = '0012_number_forms'


def upgrade() -> None:
    with op.batch_alter_table('exchange_outbox') as batch:
        batch.add_column(sa.Column('token', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('refusal', sa.Text(), nullable=True))
        batch.add_column(sa.Column('refused_at', schema.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('exchange_refusal', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('exchange_refusal')
    with op.batch_alter_table('exchange_outbox') as batch:
        batch.drop_column('refused_at')
        batch.drop_column('refusal')
        batch.drop_column('token')
