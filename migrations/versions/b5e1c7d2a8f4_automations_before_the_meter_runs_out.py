"""Automations that keep a prepaid meter topped up: bought before the meter is predicted to run out

- ``automations.schedule_kind`` may be ``run_out`` (a utility automation only, with ``lead_hours``
  above 0): its ``next_run_at`` is planned from the meter's own top-ups (``automations.top_ups``),
  and ``planned_at`` says when, so a newer top-up plans it again.
- ``automations.amount_mode`` may be ``cover_days`` ("enough for N days" at the predicted usage),
  for ``run_out`` automations only, with ``cover_days`` above 0.
- ``automations.daily_units``: the resident's own daily usage in kWh, used while the meter has too
  few top-ups to predict from.

Existing rows keep their kinds and modes; the new columns are NULL for them, which every new
check admits. SQLite rebuilds the table to change its checks (batch mode).

Revision ID: b5e1c7d2a8f4
Revises: a41c7e9d2b58
Create Date: 2026-12-03 12:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b5e1c7d2a8f4'
down_revision = 'a41c7e9d2b58'
branch_labels = None
depends_on = None

OLD_KINDS = "schedule_kind IN ('interval', 'monthly_day', 'last_day', 'nth_weekday', 'weekly')"
NEW_KINDS = "schedule_kind IN ('interval', 'monthly_day', 'last_day', 'nth_weekday', 'weekly', 'run_out')"
OLD_MODES = "amount_mode IN ('fixed', 'full_outstanding')"
NEW_MODES = "amount_mode IN ('fixed', 'full_outstanding', 'cover_days')"
NEW_CHECKS = {
    "run_out_meter": "schedule_kind != 'run_out' OR (target_kind = 'utility' AND lead_hours > 0)",
    "cover_days_run_out": "amount_mode != 'cover_days' OR (schedule_kind = 'run_out' AND cover_days > 0)",
    "daily_units_positive": "daily_units IS NULL OR daily_units > 0",
}


def upgrade():
    with op.batch_alter_table('automations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('daily_units', sa.Numeric(precision=8, scale=1), nullable=True))
        batch_op.add_column(sa.Column('cover_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('planned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_automations_schedule_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_automations_schedule_known'), NEW_KINDS)
        batch_op.drop_constraint(batch_op.f('ck_automations_amount_mode_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_automations_amount_mode_known'), NEW_MODES)
        for name, condition in NEW_CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f'ck_automations_{name}'), condition)


def downgrade():
    # Automations of the new kind or mode break the old checks, and turning them into a dated
    # schedule would invent one: the downgrade refuses while any exist.
    conn = op.get_bind()
    left = conn.execute(sa.text("SELECT count(*) FROM automations WHERE schedule_kind = 'run_out' "
                                "OR amount_mode = 'cover_days'")).scalar()
    if left:
        raise RuntimeError(f"{left} automations keep a meter topped up; delete them before downgrading")
    with op.batch_alter_table('automations', schema=None) as batch_op:
        for name in NEW_CHECKS:
            batch_op.drop_constraint(batch_op.f(f'ck_automations_{name}'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_automations_amount_mode_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_automations_amount_mode_known'), OLD_MODES)
        batch_op.drop_constraint(batch_op.f('ck_automations_schedule_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_automations_schedule_known'), OLD_KINDS)
        batch_op.drop_column('planned_at')
        batch_op.drop_column('cover_days')
        batch_op.drop_column('daily_units')
        batch_op.drop_column('lead_hours')
