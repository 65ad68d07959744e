"""Automations (recurring payments), their occurrences, and each resident's
automation settings (caps, minimum balance, reminders)."""
from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import TimestampMixin, UTCDateTime


class OccurrenceStatus(enum.StrEnum):
    WAITING = "waiting"  # due, not enough money yet: retried within the grace window
    PAID = "paid"  # a payment was created for it (its own status says how it went)
    SKIPPED = "skipped"  # skipped by the resident, or missed during downtime (catch-up policy)
    MISSED = "missed"  # the grace window ended without enough money
    LIMIT_REACHED = "limit_reached"  # a cap or the per-payment limit did not allow it


class Automation(TimestampMixin, db.Model):
    __tablename__ = "automations"
    __table_args__ = (
        CheckConstraint("target_kind IN ('utility', 'estate_bill')", name="target_known"),
        CheckConstraint("target_kind != 'utility' OR utility_account_id IS NOT NULL", name="utility_target"),
        CheckConstraint("target_kind != 'estate_bill' OR bill_type IS NOT NULL", name="bill_target"),
        CheckConstraint("amount_mode IN ('fixed', 'full_outstanding', 'cover_days')", name="amount_mode_known"),
        # "Keep my meter topped up": bought before the meter is predicted to run out (automations.top_ups).
        CheckConstraint("schedule_kind != 'run_out' OR (target_kind = 'utility' AND lead_hours > 0)",
                        name="run_out_meter"),
        CheckConstraint("amount_mode != 'cover_days' OR (schedule_kind = 'run_out' AND cover_days > 0)",
                        name="cover_days_run_out"),
        CheckConstraint("daily_units IS NULL OR daily_units > 0", name="daily_units_positive"),
        CheckConstraint("amount_mode != 'fixed' OR amount_kobo > 0", name="fixed_amount_positive"),
        CheckConstraint("payment_source IN ('wallet', 'card')", name="source_known"),
        CheckConstraint("payment_source != 'card' OR saved_card_id IS NOT NULL", name="card_chosen"),
        CheckConstraint("max_per_payment_kobo IS NULL OR max_per_payment_kobo > 0", name="limit_positive"),
        CheckConstraint("partial_min_kobo >= 0", name="partial_min_valid"),
        CheckConstraint("schedule_kind IN ('interval', 'monthly_day', 'last_day', 'nth_weekday', 'weekly', 'run_out')",
                        name="schedule_known"),
        CheckConstraint("catch_up IN ('latest', 'none')", name="catch_up_known"),
        # The sweep's index: enabled automations by their next run time.
        Index("ix_automations_due", "enabled", "next_run_at"),
        # One resident's due automations (the sweep locks them per resident): two equalities and
        # a range, so SQLite's planner prefers it to the one above without statistics.
        Index("ix_automations_user_due", "user_id", "enabled", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    # Who set it up or last changed it: the owner, or a member of their household; its payments
    # are made by them (``Payment.made_by_id``), so a payer's automation pays within their limit.
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), nullable=False)
    target_kind: Mapped[str] = mapped_column(String(20), nullable=False, default="utility")
    utility_account_id: Mapped[int | None] = mapped_column(ForeignKey("utility_accounts.id"))
    bill_type: Mapped[str | None] = mapped_column(String(32))
    amount_mode: Mapped[str] = mapped_column(String(20), nullable=False, default="fixed")
    amount_kobo: Mapped[int | None] = mapped_column(BigInteger)
    payment_source: Mapped[str] = mapped_column(String(10), nullable=False, default="wallet")
    saved_card_id: Mapped[int | None] = mapped_column(ForeignKey("saved_cards.id"))
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=2)  # 3 high, 2 normal, 1 low
    max_per_payment_kobo: Mapped[int | None] = mapped_column(BigInteger)
    allow_partial: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    partial_min_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # opt-in
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str | None] = mapped_column(String(255))
    skip_next: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Schedule (see webapp/services/schedules.py).
    schedule_kind: Mapped[str] = mapped_column(String(20), nullable=False, default="monthly_day")
    interval_unit: Mapped[str] = mapped_column(String(10), nullable=False, default="month")
    interval_count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    day_of_month: Mapped[int | None] = mapped_column(Integer)
    nth: Mapped[int | None] = mapped_column(Integer)
    weekday: Mapped[int | None] = mapped_column(Integer)
    weekdays: Mapped[str] = mapped_column(String(20), nullable=False, default="")  # "0,4" = Mon, Fri
    time_of_day: Mapped[time] = mapped_column(Time, nullable=False, default=lambda: time(9, 0))
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Africa/Lagos")
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date | None] = mapped_column(Date)
    max_occurrences: Mapped[int | None] = mapped_column(Integer)
    catch_up: Mapped[str] = mapped_column(String(10), nullable=False, default="latest")
    # run_out: buy this many hours before the predicted run-out; the resident's own daily usage
    # (kWh) while the meter has too few top-ups to predict from; "enough for N days" amounts; and
    # when next_run_at was last planned from the meter's top-ups (a newer top-up plans it again).
    lead_hours: Mapped[int | None] = mapped_column(Integer)
    daily_units: Mapped[Decimal | None] = mapped_column(Numeric(8, 1))
    cover_days: Mapped[int | None] = mapped_column(Integer)
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    occurrences_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    utility_account = relationship("UtilityAccount")
    user = relationship("User", foreign_keys=[user_id])

    @property
    def is_active(self) -> bool:
        return self.enabled and self.paused_at is None and self.deleted_at is None

    @property
    def weekday_list(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.weekdays.split(",") if d.strip().isdigit())


class AutomationOccurrence(TimestampMixin, db.Model):
    """One scheduled run of an automation. (automation, scheduled time) is the occurrence key."""

    __tablename__ = "automation_occurrences"
    __table_args__ = (
        UniqueConstraint("automation_id", "scheduled_for", name="uq_automation_occurrences_key"),
        CheckConstraint("status IN ('waiting', 'paid', 'skipped', 'missed', 'limit_reached')", name="status_known"),
        Index("ix_automation_occurrences_waiting", "status", "retry_until"),
        # A payment's outcome finds the automation it paid (automations.outcomes.automation_id_for).
        Index("ix_automation_occurrences_payment_id", "payment_id"),
        # A chunk of residents' occurrences still waiting for money (the sweep): without it a read
        # for several residents scans every resident's waiting occurrences, or all of theirs.
        Index("ix_automation_occurrences_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    automation_id: Mapped[int] = mapped_column(ForeignKey("automations.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    amount_kobo: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(255))
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    automation = relationship("Automation")
    payment = relationship("Payment")

    @property
    def key(self) -> str:
        return f"auto:{self.automation_id}:{self.scheduled_for:%Y%m%dT%H%MZ}"


class AutomationSettings(TimestampMixin, db.Model):
    """A resident's rules for all their automations."""

    __tablename__ = "automation_settings"
    __table_args__ = (
        CheckConstraint("min_balance_kobo >= 0", name="min_balance_valid"),
        CheckConstraint("reminder_lead_hours >= 0 AND grace_hours >= 0 AND pause_after_failures >= 1",
                        name="durations_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True, nullable=False)
    min_balance_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    monthly_cap_kobo: Mapped[int | None] = mapped_column(BigInteger)
    electricity_cap_kobo: Mapped[int | None] = mapped_column(BigInteger)
    water_cap_kobo: Mapped[int | None] = mapped_column(BigInteger)
    internet_cap_kobo: Mapped[int | None] = mapped_column(BigInteger)
    cable_tv_cap_kobo: Mapped[int | None] = mapped_column(BigInteger)
    estate_bills_cap_kobo: Mapped[int | None] = mapped_column(BigInteger)
    reminder_lead_hours: Mapped[int] = mapped_column(Integer, nullable=False, default=24)
    grace_hours: Mapped[int] = mapped_column(Integer, nullable=False, default=72)
    pause_after_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=3)

    def type_caps(self) -> dict[str, int]:
        caps = {"electricity": self.electricity_cap_kobo, "water": self.water_cap_kobo,
                "internet": self.internet_cap_kobo, "cable_tv": self.cable_tv_cap_kobo,
                "estate_bill": self.estate_bills_cap_kobo}
        return {k: v for k, v in caps.items() if v is not None}
