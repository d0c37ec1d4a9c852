"""number forms: every stored phone number in its canonical form (ari_app.calls.numbers), beside the form
received: calls.caller_raw and dialed_raw, cases.caller_raw and contact_raw, callbacks.number_raw

Before this revision numbers were stored as received, so what is stored is copied to the new raw columns.
Numbers stored in an international or written form of a Chinese number (+8613812345678, 0086...,
138-1234-5678) are rewritten in the national form the platform now stores (13812345678), so a citizen's
earlier cases match their new calls; numbers abroad become E.164. A number the rule cannot read for certain
(a local number without area code: the area is in config.yaml, not here) is left as it was.
"""

from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op


revision: str = '0012_number_forms'
down_revision: str | Sequence[str] | None = '0011_session_epochs'

REGION = 'CN'
COLUMNS = (('calls', 'caller'), ('calls', 'dialed'), ('cases', 'caller'), ('cases', 'contact'), ('callbacks', 'number'))


def _canonical(value: str) -> str | None:
    """The national form of a valid Chinese number, E.164 of a valid number abroad; None when the value is
    already plain digits (kept) or not a number phonenumbers knows as valid."""
    if value.isdigit() and not value.startswith('00'):
        return None
    try:
        number = phonenumbers.parse(value, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.region_code_for_number(number) == REGION:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return ''.join(ch for ch in text if ch.isdigit())
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('dialed_raw', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('caller_raw', sa.String(length=64), nullable=True))
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('contact_raw', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('caller_raw', sa.String(length=64), nullable=True))
    with op.batch_alter_table('callbacks') as batch:
        batch.add_column(sa.Column('number_raw', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for table, column in COLUMNS:
        raw = f'{column}_raw'
        conn.execute(sa.text(f'UPDATE {table} SET {raw} = {column} WHERE {column} IS NOT NULL'))
        if column == 'dialed':
            continue  # hotline calls stored the hotline number, which was the number dialed
        rows = conn.execute(sa.text(f'SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL')).all()
        for row_id, value in rows:
            canonical = _canonical(value)
            if canonical is not None and canonical != value:
                conn.execute(
                    sa.text(f'UPDATE {table} SET {column} = :value WHERE id = :id'), {'value': canonical, 'id': row_id}
                )


def downgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS:
        if column == 'dialed':
            continue  # what the dialplan reached (the hotline number) is what older versions stored
        raw = f'{column}_raw'
        conn.execute(sa.text(f'UPDATE {table} SET {column} = substr({raw}, 1, 40) WHERE {raw} IS NOT NULL'))
    with op.batch_alter_table('callbacks') as batch:
        batch.drop_column('number_raw')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('caller_raw')
        batch.drop_column('contact_raw')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('caller_raw')
        batch.drop_column('dialed_raw')
