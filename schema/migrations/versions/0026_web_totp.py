"""the second factor: a user's TOTP secret and the step of the last code accepted (web sign-in)"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0026_web_totp'
down_revision: str | Sequence[str] | None = '0025_linkage'


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_secret')
