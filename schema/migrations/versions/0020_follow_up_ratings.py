"""follow-up ratings: when a case's follow-up (回访) is due, the five-level rating of a case (一事一评) and
of a call (一次一评), and how the follow-up reached the citizen

Older rows stay readable: a follow-up's five-level `rating` is the level of its three-level
`satisfaction` (the same words); a keypad answer's `level` is its `rating` and its `digit` the key that
gives it (1, 2, 3); the cases waiting for a follow-up (handled, and the duplicates of a handled master whose
citizen was not reached) are due from their handling, i.e. at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0020_follow_up_ratings'
down_revision: str | Sequence[str] | None = '0019_attachments'


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('follow_up_due_at', schema.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('follow_up_rating', sa.String(length=24), nullable=True))
        batch.create_index('ix_cases_follow_up_due_at', ['follow_up_due_at'], unique=False)
    with op.batch_alter_table('follow_ups') as batch:
        batch.add_column(sa.Column('rating', sa.String(length=24), nullable=True))
        batch.add_column(sa.Column('channel', sa.String(length=8), nullable=True))
    with op.batch_alter_table('survey_responses') as batch:
        batch.add_column(sa.Column('digit', sa.String(length=1), nullable=True))
        batch.add_column(sa.Column('level', sa.String(length=24), nullable=True))
    op.execute(
        "UPDATE follow_ups SET rating = CASE satisfaction WHEN 'satisfied' THEN 'satisfied' "
        "WHEN 'basic' THEN 'basically_satisfied' WHEN 'unsatisfied' THEN 'unsatisfied' END "
        "WHERE satisfaction IS NOT NULL"
    )
    op.execute(
        "UPDATE survey_responses SET level = rating, digit = CASE rating WHEN 'satisfied' THEN '1' "
        "WHEN 'basically_satisfied' THEN '2' WHEN 'unsatisfied' THEN '3' END"
    )
    op.execute(
        "UPDATE cases SET follow_up_rating = (SELECT f.rating FROM follow_ups f WHERE f.case_id = cases.id "
        "AND f.reached AND f.survey_id IS NULL AND f.rating IS NOT NULL ORDER BY f.id DESC LIMIT 1)"
    )
    op.execute("UPDATE cases SET follow_up_due_at = handled_at WHERE status = 'handled'")
    op.execute(
        "UPDATE cases SET follow_up_due_at = (SELECT m.handled_at FROM cases m WHERE m.id = cases.master_case_id) "
        "WHERE master_case_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.case_id = cases.id "
        "AND f.reached AND f.survey_id IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table('survey_responses') as batch:
        batch.drop_column('level')
        batch.drop_column('digit')
    with op.batch_alter_table('follow_ups') as batch:
        batch.drop_column('channel')
        batch.drop_column('rating')
    with op.batch_alter_table('cases') as batch:
        batch.drop_index('ix_cases_follow_up_due_at')
        batch.drop_column('follow_up_rating')
        batch.drop_column('follow_up_due_at')
