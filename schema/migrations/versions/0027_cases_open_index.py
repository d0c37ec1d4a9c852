"""the open cases indexed apart: a department's list probes its shares' case ids among a few percent of the cases"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0027_cases_open_index'
down_revision: str | Sequence[str] | None = '0026_web_totp'


def upgrade() -> None:
    op.create_index(
        'ix_cases_open',
        'cases',
        ['id'],
        unique=False,
        postgresql_include=['exchange_refusal', 'deadline_at', 'created_at'],
        postgresql_where=sa.text("status <> 'closed'"),
        sqlite_where=sa.text("status <> 'closed'"),
    )


def downgrade() -> None:
    op.drop_index('ix_cases_open', table_name='cases')
