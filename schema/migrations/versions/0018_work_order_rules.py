"""work-order rules: dispatch, sign-for and feedback deadlines, the on-time sign-for record, returns reviewed by
the centre (退单), extensions (延期), the re-dispatch and send-back counters of problem work orders (问题工单)
and the citizen notices due

Existing rows: cases get counters 0 and no dispatch deadline; dispatches get no sign-for or feedback deadline
and no on-time record (their limits were never set; docs/cases.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0018_work_order_rules'
down_revision: str | Sequence[str] | None = '0017_merge'


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('dispatch_deadline_at', schema.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('redispatch_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('send_back_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('problem_at', schema.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('dispatches') as batch:
        batch.add_column(sa.Column('sign_for_deadline_at', schema.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('signed_on_time', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('feedback_deadline_at', schema.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('sign_for_overdue_at', schema.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'dispatch_returns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('dispatch_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('reason_code', sa.String(length=24), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('requested_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['dispatch_id'], ['dispatches.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id']),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id']),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_dispatch_returns_case_id', 'dispatch_returns', ['case_id'], unique=False)
    op.create_index('ix_dispatch_returns_unit_id_status', 'dispatch_returns', ['unit_id', 'status'], unique=False)
    op.create_table(
        'case_extensions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('dispatch_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('deadline_before', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('deadline_asked', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['dispatch_id'], ['dispatches.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id']),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id']),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_extensions_case_id', 'case_extensions', ['case_id'], unique=False)
    op.create_table(
        'case_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('due_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', schema.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_notices_sent_at_due_at', 'case_notices', ['sent_at', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_notices_sent_at_due_at', table_name='case_notices')
    op.drop_table('case_notices')
    op.drop_index('ix_case_extensions_case_id', table_name='case_extensions')
    op.drop_table('case_extensions')
    op.drop_index('ix_dispatch_returns_unit_id_status', table_name='dispatch_returns')
    op.drop_index('ix_dispatch_returns_case_id', table_name='dispatch_returns')
    op.drop_table('dispatch_returns')
    with op.batch_alter_table('dispatches') as batch:
        batch.drop_column('sign_for_overdue_at')
        batch.drop_column('feedback_deadline_at')
        batch.drop_column('signed_on_time')
        batch.drop_column('sign_for_deadline_at')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('problem_at')
        batch.drop_column('send_back_count')
        batch.drop_column('redispatch_count')
        batch.drop_column('dispatch_deadline_at')
