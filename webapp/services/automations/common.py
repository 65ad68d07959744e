"""Shared pieces: an automation's schedule, residents' settings, month-to-date spending."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

from webapp.extensions import db
from webapp.models import Payment
from webapp.models.automation import Automation, AutomationSettings
from webapp.services.automations.schedules import RUN_OUT, Schedule

OPEN_OR_PAID = ("created", "held", "debited", "submitted", "unknown", "succeeded")


def schedule_of(automation: Automation) -> Schedule:
    return Schedule(
        kind=automation.schedule_kind, starts_on=automation.starts_on, time_of_day=automation.time_of_day,
        timezone=automation.timezone, interval_unit=automation.interval_unit,
        interval_count=automation.interval_count, day_of_month=automation.day_of_month, nth=automation.nth,
        weekday=automation.weekday, weekdays=automation.weekday_list, ends_on=automation.ends_on,
        max_occurrences=automation.max_occurrences, lead_hours=automation.lead_hours,
        planned=automation.next_run_at if automation.schedule_kind == RUN_OUT else None,
    )


def default_settings(user_id: int) -> AutomationSettings:
    """The settings of a resident who never saved any (not added to the session)."""
    return AutomationSettings(user_id=user_id, min_balance_kobo=0, reminder_lead_hours=24, grace_hours=72,
                              pause_after_failures=3)


def settings_for(user_id: int) -> AutomationSettings:
    """The resident's saved settings, or unsaved defaults (reading never writes)."""
    return settings_for_many([user_id])[user_id]


def settings_for_many(user_ids: Iterable[int]) -> dict[int, AutomationSettings]:
    """``settings_for`` of each resident, in one query."""
    user_ids = list(user_ids)
    saved = {s.user_id: s for s in db.session.scalars(
        select(AutomationSettings).where(AutomationSettings.user_id.in_(user_ids)))}
    return {user_id: saved.get(user_id) or default_settings(user_id) for user_id in user_ids}


def month_start_utc(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def automation_spend_this_month(user_id: int, now: datetime, timezone: str) -> dict[str, int]:
    """Automation payments this calendar month (resident's zone) by utility type, not counting
    payments that failed or were cancelled."""
    return automation_spend_by_resident({user_id: timezone}, now)[user_id]


def automation_spend_by_resident(timezones: Mapping[int, str], now: datetime) -> dict[int, dict[str, int]]:
    """``automation_spend_this_month`` of each resident (user id -> their time zone), in one query.
    Each resident's month starts in their own zone: residents are grouped by that moment."""
    residents_by_start: dict[datetime, list[int]] = defaultdict(list)
    for user_id, timezone in timezones.items():
        residents_by_start[month_start_utc(now, timezone)].append(user_id)
    spent: dict[int, dict[str, int]] = {user_id: {} for user_id in timezones}
    if not spent:
        return spent
    this_month = or_(*(and_(Payment.user_id.in_(user_ids), Payment.created_at >= start)
                       for start, user_ids in residents_by_start.items()))
    rows = db.session.execute(
        select(Payment.user_id, Payment.utility_type, func.coalesce(func.sum(Payment.amount_kobo), 0))
        .where(this_month, Payment.source == "automation", Payment.status.in_(OPEN_OR_PAID))
        .group_by(Payment.user_id, Payment.utility_type)
    ).all()
    for user_id, kind, total in rows:
        spent[user_id][kind or "other"] = int(total)
    return spent
