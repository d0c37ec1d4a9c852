"""web sessions: the browser front's signed-in browsers (the hash of each cookie's token, its user and
epoch, its idle and absolute expiry)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0021_web_sessions'
down_revision: str | Sequence[str] | None = '0020_follow_up_ratings'


def upgrade() -> None:
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('login', sa.String(length=64), nullable=False),
        sa.Column('epoch', sa.Integer(), nullable=False),
        sa.Column('created_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', schema.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_web_sessions_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_web_sessions'),
        sa.UniqueConstraint('token_hash', name='uq_web_sessions_token_hash'),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_web_sessions_user_id', table_name='web_sessions')
    op.drop_table('web_sessions')
