"""Status calls without an answer: counted apart from real checks, and an alert after an hour

- ``payments.status_call_failures``: status calls in a row that got no answer at all (timeout,
  5xx, unreadable). They no longer count as checks (``status_checks`` moves only on an answer),
  so the next try comes within seconds instead of further along the requery backoff.
- ``payments.no_answer_since``: when that run of unanswered calls (or the purchase call's own
  timeout) began; NULL once the provider answers.
- ``payments.no_answer_alerted_at``: when admins were alerted and the resident told that the
  provider had not answered for ``PAYMENT_ALERT_AFTER_SECONDS``.

Revision ID: 3b1e6c0d9a47
Revises: ff008c4e52c7
Create Date: 2026-12-02 06:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3b1e6c0d9a47'
down_revision = 'ff008c4e52c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_call_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('no_answer_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('no_answer_alerted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('no_answer_alerted_at')
        batch_op.drop_column('no_answer_since')
        batch_op.drop_column('status_call_failures')
