"""Payments note the batch job that buys them, for the relay of lost jobs

- ``payments.job_id``: the RQ job buying a payment when that is a batch's
  (``batch-<first reference>``); NULL means its own reference. The relay
  (``webapp.services.payments.relay``) asks RQ about that job to tell a payment whose job waits
  from one whose job was lost, and enqueues only the latter again.

Revision ID: 5c2d8e1f7a90
Revises: fd0856a72aa3
Create Date: 2026-12-02 06:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c2d8e1f7a90'
down_revision = 'fd0856a72aa3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_id', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('job_id')
