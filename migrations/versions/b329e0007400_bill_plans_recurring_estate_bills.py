"""Bill plans: recurring estate bills, issued once per plan, period and resident

- ``bill_plans``: what an estate bills again every month, quarter or year (title, type, amount,
  day of the month, start and optional end), to every resident or to those in
  ``bill_plan_residents``; paused or not; the due date, grace period and reminder days of the
  bills it issues; ``issue_from`` and ``last_issued_period`` say which periods are left to issue.
- ``bills.plan_id`` and ``bills.plan_period`` (first day of the month issued for): unique with
  ``user_id``, so a job run twice, or two at once, never bills a resident twice for one period.
  Existing bills have neither (the check keeps the two together).

Revision ID: b329e0007400
Revises: b7d4e2a9c1f3
Create Date: 2026-12-03 12:02:17.602684

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b329e0007400'
down_revision = 'b7d4e2a9c1f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bill_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('estate_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('bill_type', sa.String(length=32), nullable=False),
    sa.Column('amount_kobo', sa.BigInteger(), nullable=False),
    sa.Column('frequency', sa.String(length=12), nullable=False),
    sa.Column('day_of_month', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('issue_from', sa.Date(), nullable=False),
    sa.Column('last_issued_period', sa.Date(), nullable=True),
    sa.Column('all_residents', sa.Boolean(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('due_after_days', sa.Integer(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('reminder_days_after', sa.String(length=60), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("bill_type IN ('security', 'maintenance', 'service_charge', 'waste_management')", name=op.f('ck_bill_plans_bill_type_known')),
    sa.CheckConstraint("frequency IN ('monthly', 'quarterly', 'yearly')", name=op.f('ck_bill_plans_frequency_known')),
    sa.CheckConstraint('amount_kobo > 0', name=op.f('ck_bill_plans_amount_positive')),
    sa.CheckConstraint('day_of_month >= 1 AND day_of_month <= 31', name=op.f('ck_bill_plans_day_of_month_in_range')),
    sa.CheckConstraint('due_after_days >= 0 AND due_after_days <= 90', name=op.f('ck_bill_plans_due_after_days_in_range')),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name=op.f('ck_bill_plans_ends_after_start')),
    sa.CheckConstraint('grace_days >= 0 AND grace_days <= 90', name=op.f('ck_bill_plans_grace_days_in_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bill_plans_created_by_id_users')),
    sa.ForeignKeyConstraint(['estate_id'], ['estates.id'], name=op.f('fk_bill_plans_estate_id_estates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_plans'))
    )
    with op.batch_alter_table('bill_plans', schema=None) as batch_op:
        batch_op.create_index('ix_bill_plans_estate', ['estate_id'], unique=False)

    op.create_table('bill_plan_residents',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['bill_plans.id'], name=op.f('fk_bill_plan_residents_plan_id_bill_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bill_plan_residents_user_id_users')),
    sa.PrimaryKeyConstraint('plan_id', 'user_id', name=op.f('pk_bill_plan_residents'))
    )
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('plan_period', sa.Date(), nullable=True))
        batch_op.create_unique_constraint('uq_bills_plan_period_user', ['plan_id', 'plan_period', 'user_id'])
        batch_op.create_foreign_key(batch_op.f('fk_bills_plan_id_bill_plans'), 'bill_plans', ['plan_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_bills_plan_with_period'),
                                         '(plan_id IS NULL) = (plan_period IS NULL)')



def downgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_bills_plan_with_period'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_bills_plan_id_bill_plans'), type_='foreignkey')
        batch_op.drop_constraint('uq_bills_plan_period_user', type_='unique')
        batch_op.drop_column('plan_period')
        batch_op.drop_column('plan_id')

    op.drop_table('bill_plan_residents')
    with op.batch_alter_table('bill_plans', schema=None) as batch_op:
        batch_op.drop_index('ix_bill_plans_estate')

    op.drop_table('bill_plans')
