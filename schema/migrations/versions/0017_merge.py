"""merge: a duplicate case follows its master case (并单), and the indexes that bound the search for
duplicates (same category, same contact number, recent)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0017_merge'
down_revision: str | Sequence[str] | None = '0016_confidential'


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('master_case_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('merged_at', schema.base.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key('fk_cases_master_case_id_cases', 'cases', ['master_case_id'], ['id'])
        batch.drop_index('ix_cases_contact')
        batch.create_index('ix_cases_contact_created_at', ['contact', 'created_at'], unique=False)
        batch.create_index('ix_cases_category_id_created_at', ['category_id', 'created_at'], unique=False)
        batch.create_index('ix_cases_master_case_id', ['master_case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_index('ix_cases_master_case_id')
        batch.drop_index('ix_cases_category_id_created_at')
        batch.drop_index('ix_cases_contact_created_at')
        batch.create_index('ix_cases_contact', ['contact'], unique=False)
        batch.drop_constraint('fk_cases_master_case_id_cases', type_='foreignkey')
        batch.drop_column('merged_at')
        batch.drop_column('master_case_id')
