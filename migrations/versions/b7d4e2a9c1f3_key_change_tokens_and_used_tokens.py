"""Key change tokens kept with the payment, and when the resident marked a token used

- ``payments.key_change_token_1``, ``payments.key_change_token_2``: KCT1 and KCT2, the two tokens a
  meter due a key change takes before the purchase token (VTpass ``kct1``/``kct2``). Encrypted at
  rest like ``token`` (Fernet text), NULL when the provider gave none.
- ``payments.token_used_at``: when the resident said they loaded the token into the meter (the
  token vault's "Mark used"); NULL while not marked.

Existing rows keep NULL in all three: no earlier answer was read for key change tokens, and no
token was marked used before.

Revision ID: b7d4e2a9c1f3
Revises: 0587b3dc1cca
Create Date: 2026-12-03 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d4e2a9c1f3'
down_revision = '0587b3dc1cca'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_change_token_1', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('key_change_token_2', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('token_used_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('token_used_at')
        batch_op.drop_column('key_change_token_2')
        batch_op.drop_column('key_change_token_1')
