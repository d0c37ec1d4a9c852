"""catalogue: request types, the classification catalogue, the dispatch catalogue (派单目录) and a case's
location (district, street, grid cell, latitude / longitude)

Cases taken before request types existed get `help` (求助): see docs/cases.md, "Request types".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import schema.base


revision: str = '0015_catalogue'
down_revision: str | Sequence[str] | None = '0014_recording_status'


def upgrade() -> None:
    op.create_table('classifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=True),
    sa.Column('retired_at', schema.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', schema.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', schema.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['classifications.id'], name=op.f('fk_classifications_parent_id_classifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_classifications')),
    sa.UniqueConstraint('code', name=op.f('uq_classifications_code'))
    )
    with op.batch_alter_table('classifications', schema=None) as batch_op:
        batch_op.create_index('ix_classifications_parent_id', ['parent_id'], unique=False)

    op.create_table('dispatch_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('classification_id', sa.Integer(), nullable=False),
    sa.Column('subtree', sa.Boolean(), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=True),
    sa.Column('street', sa.String(length=64), nullable=True),
    sa.Column('grid_cell', sa.String(length=64), nullable=True),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('created_at', schema.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['classification_id'], ['classifications.id'], name=op.f('fk_dispatch_rules_classification_id_classifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_rules'))
    )
    with op.batch_alter_table('dispatch_rules', schema=None) as batch_op:
        batch_op.create_index('ix_dispatch_rules_classification_id', ['classification_id'], unique=False)

    op.create_table('dispatch_rule_units',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['dispatch_rules.id'], name=op.f('fk_dispatch_rule_units_rule_id_dispatch_rules')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_dispatch_rule_units_unit_id_units')),
    sa.PrimaryKeyConstraint('rule_id', 'unit_id', name=op.f('pk_dispatch_rule_units'))
    )

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_type', sa.String(length=16), server_default='help', nullable=False))
        batch_op.add_column(sa.Column('classification_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('classification_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('classification_path', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('district', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('street', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('grid_cell', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_cases_classification_id_classifications'), 'classifications', ['classification_id'], ['id']
        )
        batch_op.create_index('ix_cases_classification_id', ['classification_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_classification_id')
        batch_op.drop_constraint(op.f('fk_cases_classification_id_classifications'), type_='foreignkey')
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')
        batch_op.drop_column('grid_cell')
        batch_op.drop_column('street')
        batch_op.drop_column('district')
        batch_op.drop_column('classification_path')
        batch_op.drop_column('classification_name')
        batch_op.drop_column('classification_id')
        batch_op.drop_column('request_type')
    op.drop_table('dispatch_rule_units')
    with op.batch_alter_table('dispatch_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_rules_classification_id')
    op.drop_table('dispatch_rules')
    with op.batch_alter_table('classifications', schema=None) as batch_op:
        batch_op.drop_index('ix_classifications_parent_id')
    op.drop_table('classifications')
