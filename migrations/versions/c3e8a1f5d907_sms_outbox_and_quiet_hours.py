"""SMS as a notification channel: the SMS outbox and residents' quiet hours

- ``sms_messages``: one row per text message (dedup key, Termii's message_id and delivery status).
- ``users.sms_quiet_start`` / ``sms_quiet_end``: minutes after midnight in the resident's timezone
  during which a non-urgent SMS waits; both NULL (every existing user) means no quiet hours.

Revision ID: c3e8a1f5d907
Revises: b5e1c7d2a8f4
Create Date: 2026-12-03 12:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3e8a1f5d907'
down_revision = 'b5e1c7d2a8f4'
branch_labels = None
depends_on = None

QUIET_HOURS_CHECK = ("(sms_quiet_start IS NULL) = (sms_quiet_end IS NULL) AND sms_quiet_start BETWEEN 0 AND 1439 "
                     "AND sms_quiet_end BETWEEN 0 AND 1439 AND sms_quiet_start <> sms_quiet_end")


def upgrade():
    op.create_table(
        'sms_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('to_number', sa.String(length=20), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('dedup_key', sa.String(length=210), nullable=False),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('provider_message_id', sa.String(length=64), nullable=True),
        sa.Column('provider_status', sa.String(length=100), nullable=True),
        sa.Column('failure_reason', sa.String(length=200), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_sms_messages_attempts_not_negative')),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'delivered', 'failed')",
                           name=op.f('ck_sms_messages_status_known')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sms_messages_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
        sa.UniqueConstraint('dedup_key', name=op.f('uq_sms_messages_dedup_key')),
        sa.UniqueConstraint('provider_message_id', name=op.f('uq_sms_messages_provider_message_id')),
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index('ix_sms_messages_status_next_attempt', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_sms_messages_user_created', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_quiet_start', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('sms_quiet_end', sa.SmallInteger(), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_users_sms_quiet_hours_valid'), QUIET_HOURS_CHECK)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_sms_quiet_hours_valid'), type_='check')
        batch_op.drop_column('sms_quiet_end')
        batch_op.drop_column('sms_quiet_start')
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_user_created')
        batch_op.drop_index('ix_sms_messages_status_next_attempt')
    op.drop_table('sms_messages')
