"""Shared pieces: an automation's schedule, a resident's settings, month-to-date spending."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Payment
from webapp.models.automation import Automation, AutomationSettings
from webapp.services.automations.schedules import Schedule

OPEN_OR_PAID = ("created", "held", "debited", "submitted", "unknown", "succeeded")


def schedule_of(automation: Automation) -> Schedule:
    return Schedule(
        kind=automation.schedule_kind, starts_on=automation.starts_on, time_of_day=automation.time_of_day,
        timezone=automation.timezone, interval_unit=automation.interval_unit,
        interval_count=automation.interval_count, day_of_month=automation.day_of_month, nth=automation.nth,
        weekday=automation.weekday, weekdays=automation.weekday_list, ends_on=automation.ends_on,
        max_occurrences=automation.max_occurrences,
    )


def settings_for(user_id: int) -> AutomationSettings:
    """The resident's saved settings, or unsaved defaults (reading never writes)."""
    found = db.session.scalar(select(AutomationSettings).where(AutomationSettings.user_id == user_id))
    if found is not None:
        return found
    return AutomationSettings(user_id=user_id, min_balance_kobo=0, reminder_lead_hours=24, grace_hours=72,
                              pause_after_failures=3)


def month_start_utc(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def automation_spend_this_month(user_id: int, now: datetime, timezone: str) -> dict[str, int]:
    """Automation payments this calendar month (resident's zone) by utility type, not counting
    payments that failed or were cancelled."""
    rows = db.session.execute(
        select(Payment.utility_type, func.coalesce(func.sum(Payment.amount_kobo), 0))
        .where(Payment.user_id == user_id, Payment.source == "automation",
               Payment.status.in_(OPEN_OR_PAID), Payment.created_at >= month_start_utc(now, timezone))
        .group_by(Payment.utility_type)
    ).all()
    return {kind or "other": int(total) for kind, total in rows}
