"""System postings wait for the roll-up; occurrences found by payment

- ``postings.in_balance``: whether the posting is counted in its account's cached balance. Every
  existing posting is (balances were kept up to date in the posting transaction until now), hence
  the server default true. From now on a system account's postings start false and the roll-up
  (``webapp.services.ledger.rollup``) counts them, so no payment locks a shared ledger row.
- ``ix_postings_pending``: a partial index over the few postings not yet counted.
- ``ix_automation_occurrences_payment_id``: a payment's outcome looks up its automation by payment.
- ``ix_automations_user_due``: the sweep's lock of one resident's due automations; without it SQLite
  scanned every due automation for each resident (the sweep grew with the square of the due rows).

Revision ID: ff008c4e52c7
Revises: 07c2a7b779d7
Create Date: 2026-12-02 03:19:53.039419

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ff008c4e52c7'
down_revision = '07c2a7b779d7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('automation_occurrences', schema=None) as batch_op:
        batch_op.create_index('ix_automation_occurrences_payment_id', ['payment_id'], unique=False)

    with op.batch_alter_table('automations', schema=None) as batch_op:
        batch_op.create_index('ix_automations_user_due', ['user_id', 'enabled', 'next_run_at'], unique=False)

    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_balance', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index('ix_postings_pending', ['account_id'], unique=False,
                              postgresql_where=sa.text('NOT in_balance'), sqlite_where=sa.text('NOT in_balance'))


def downgrade():
    # Count whatever still waits for the roll-up first: before this revision balances are complete.
    op.execute("UPDATE accounts SET balance_kobo = balance_kobo + (SELECT COALESCE(SUM(p.amount_kobo), 0) "
               "FROM postings p WHERE p.account_id = accounts.id AND NOT p.in_balance)")
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index('ix_postings_pending', postgresql_where=sa.text('NOT in_balance'),
                            sqlite_where=sa.text('NOT in_balance'))
        batch_op.drop_column('in_balance')

    with op.batch_alter_table('automations', schema=None) as batch_op:
        batch_op.drop_index('ix_automations_user_due')

    with op.batch_alter_table('automation_occurrences', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_occurrences_payment_id')
