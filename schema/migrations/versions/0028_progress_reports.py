"""progress reports (阶段性回复): a unit's notes on its signed-for share before its result"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0028_progress_reports'
down_revision: str | Sequence[str] | None = '0027_cases_open_index'


def upgrade() -> None:
    op.create_table(
        'progress_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('dispatch_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('reported_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reported_by', sa.Integer(), nullable=True),
        sa.Column('reported_by_login', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['dispatch_id'], ['dispatches.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id']),
        sa.ForeignKeyConstraint(['reported_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_progress_reports_case_id', 'progress_reports', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_progress_reports_case_id', table_name='progress_reports')
    op.drop_table('progress_reports')
