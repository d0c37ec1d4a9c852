"""confidential work orders (保密工单): a case whose citizen asked that their contact be kept from the units"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016_confidential'
down_revision: str | Sequence[str] | None = '0015_catalogue'


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('confidential', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('confidential')
