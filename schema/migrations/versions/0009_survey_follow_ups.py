"""survey answers as follow-ups

A keypad survey answer given at the end of a case's call becomes that case's follow-up; `survey_id` links
the follow-up to the answer, unique so that one answer is counted once. Existing answers are linked by the
CTI server's case runner on its next pass (ari_app.cases.surveys.link_pending), with audit entries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009_survey_follow_ups'
down_revision: str | Sequence[str] | None = '0008_qa'


def upgrade() -> None:
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('survey_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_follow_ups_survey_id'), ['survey_id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_follow_ups_survey_id_survey_responses'), 'survey_responses', ['survey_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_follow_ups_survey_id_survey_responses'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_follow_ups_survey_id'), type_='unique')
        batch_op.drop_column('survey_id')
