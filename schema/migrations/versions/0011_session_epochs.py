"""session epochs: a user's sessions end when their password changes, they are disabled or signed out
everywhere
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011_session_epochs'
down_revision: str | Sequence[str] | None = '0010_call_transfers'


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('sessions_ended_reason', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('sessions_ended_reason')
        batch.drop_column('session_epoch')
