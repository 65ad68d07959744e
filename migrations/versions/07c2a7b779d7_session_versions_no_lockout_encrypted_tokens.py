"""session versions, no lock-out columns, encrypted tokens

users.session_version lets logout, a password change or an admin sign every session of a person
out. The lock-out columns go: failed sign-ins are slowed by rate limits, never locked. Electricity
tokens are encrypted at rest like customer numbers (Fernet, the app's ENCRYPTION_KEYS): the column
becomes text and every stored token is encrypted here (and decrypted again on downgrade).

Revision ID: 07c2a7b779d7
Revises: 2fc0f12b3e73
Create Date: 2026-12-01 21:31:28.725871

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '07c2a7b779d7'
down_revision = '2fc0f12b3e73'
branch_labels = None
depends_on = None


def _tokens(conn):
    return conn.execute(sa.text("SELECT id, token FROM payments WHERE token IS NOT NULL")).fetchall()


def upgrade():
    from webapp.infra import crypto

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.alter_column('token',
               existing_type=sa.VARCHAR(length=64),
               type_=sa.Text(),
               existing_nullable=True)
    conn = op.get_bind()
    for payment_id, token in _tokens(conn):
        conn.execute(sa.text("UPDATE payments SET token = :token WHERE id = :id"),
                     {"token": crypto.encrypt(token), "id": payment_id})

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_login_count')


def downgrade():
    from webapp.infra import crypto

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_login_count', sa.INTEGER(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('session_version')

    conn = op.get_bind()
    for payment_id, token in _tokens(conn):
        conn.execute(sa.text("UPDATE payments SET token = :token WHERE id = :id"),
                     {"token": crypto.decrypt(token), "id": payment_id})
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.alter_column('token',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=64),
               existing_nullable=True)
