"""Bill plans: an estate bill issued again every month, quarter or year (recurring estate bills).

A plan issues ordinary ``Bill`` rows; each carries its plan and its period (the first day of the
month the bill was issued for), and the database allows one bill per plan, period and resident.
"""
from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import TimestampMixin, one_of
from webapp.models.bill import CLUSTER_BILL_TYPES


class PlanFrequency(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


MONTHS_BETWEEN_ISSUES = {PlanFrequency.MONTHLY: 1, PlanFrequency.QUARTERLY: 3, PlanFrequency.YEARLY: 12}

# The residents a plan bills when it is not for every resident of its estate.
bill_plan_residents = Table(
    "bill_plan_residents", db.metadata,
    Column("plan_id", ForeignKey("bill_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)


class BillPlan(TimestampMixin, db.Model):
    __tablename__ = "bill_plans"
    __table_args__ = (
        CheckConstraint(one_of("bill_type", CLUSTER_BILL_TYPES), name="bill_type_known"),
        CheckConstraint(one_of("frequency", PlanFrequency), name="frequency_known"),
        CheckConstraint("amount_kobo > 0", name="amount_positive"),
        CheckConstraint("day_of_month >= 1 AND day_of_month <= 31", name="day_of_month_in_range"),
        CheckConstraint("due_after_days >= 0 AND due_after_days <= 90", name="due_after_days_in_range"),
        CheckConstraint("grace_days >= 0 AND grace_days <= 90", name="grace_days_in_range"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
        Index("ix_bill_plans_estate", "estate_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    bill_type: Mapped[str] = mapped_column(String(32), nullable=False)
    amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False)
    frequency: Mapped[str] = mapped_column(String(12), nullable=False)
    # The day of the month bills are issued; a month without it issues on its last day (31 → 28 Feb).
    day_of_month: Mapped[int] = mapped_column(Integer, nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # Periods whose issue day is before this are never issued: set at creation, on resuming and when
    # the schedule changes, so neither a resume nor an edit bills for a day already gone.
    issue_from: Mapped[date] = mapped_column(Date, nullable=False)
    last_issued_period: Mapped[date | None] = mapped_column(Date)
    all_residents: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    due_after_days: Mapped[int] = mapped_column(Integer, nullable=False, default=14)
    # Days after the due date before an unpaid bill counts as overdue.
    grace_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Reminders after the due date, as days after it ("3,7,14"); empty for none.
    reminder_days_after: Mapped[str] = mapped_column(String(60), nullable=False, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    residents = relationship("User", secondary=bill_plan_residents, order_by="User.full_name")

    @property
    def months_between_issues(self) -> int:
        return MONTHS_BETWEEN_ISSUES[PlanFrequency(self.frequency)]

    @property
    def reminder_days(self) -> list[int]:
        return sorted({int(day) for day in self.reminder_days_after.split(",") if day.strip().isdigit()})
