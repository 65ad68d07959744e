"""A resident's automations: create, edit, switch on and off, pause, resume, skip, delete.

Every function is scoped to the resident: an id that is not theirs, or that was deleted, gives
None, which the pages show as a 404 (never a 403 that confirms it exists). Bad input raises
``AutomationError`` (one message per form field) and changes nothing.

New automations start switched off: nothing is ever paid until the resident turns one on
(opt-in). Turning on, resuming and editing all schedule the next run strictly from *now*, so a
start date in the past, or weeks spent paused, never produce a flood of back payments.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Automation, AutomationOccurrence, User
from webapp.models.base import utcnow
from webapp.services.automations.common import schedule_of
from webapp.services.automations.inputs import (
    BILL_NAMES,
    PRIORITIES,
    AutomationError,
    naira_text,
    parse_schedule,
    read_automation,
    today_in,
)

OFF, ON, PAUSED, FINISHED = "off", "on", "paused", "finished"
PRIORITY_NAMES = {number: name for name, number in PRIORITIES.items()}


# --- reading ----------------------------------------------------------------------------------

def _mine(user_id: int):
    return select(Automation).where(Automation.user_id == user_id, Automation.deleted_at.is_(None))


def list_automations(user_id: int) -> list[Automation]:
    """The resident's automations (not deleted), newest first, with their accounts loaded."""
    return list(db.session.scalars(
        _mine(user_id).options(selectinload(Automation.utility_account)).order_by(Automation.id.desc())
    ))


def get_automation(user_id: int, automation_id: int) -> Automation | None:
    """One automation, only if it is the resident's and not deleted; None means 404."""
    return db.session.scalar(_mine(user_id).where(Automation.id == automation_id))


def recent_occurrences(user_id: int, automation_id: int, limit: int = 20) -> list[AutomationOccurrence]:
    """The latest runs of one automation (paid, waiting, skipped, missed...), newest first."""
    return list(db.session.scalars(
        select(AutomationOccurrence)
        .where(AutomationOccurrence.automation_id == automation_id, AutomationOccurrence.user_id == user_id)
        .options(selectinload(AutomationOccurrence.payment))
        .order_by(AutomationOccurrence.scheduled_for.desc()).limit(limit)
    ))


def state_of(automation: Automation) -> str:
    """off (not opted in), on, paused (by the resident or after failures), finished (no runs left)."""
    if not automation.enabled:
        return OFF
    if automation.paused_at is not None:
        return PAUSED
    return ON if automation.next_run_at is not None else FINISHED


def target_label(automation: Automation) -> str:
    account = automation.utility_account
    if automation.target_kind == "utility" and account is not None:
        removed = ", removed" if account.removed_at is not None else ""
        return f"{account.nickname} ({account.provider.name}{removed})"
    return f"{BILL_NAMES.get(automation.bill_type or '', 'Estate')} bill"


def next_runs(automation: Automation, now: datetime | None = None, count: int = 5) -> list[datetime]:
    """The next ``count`` run times (UTC) of an automation's schedule from now."""
    return schedule_of(automation).occurrences_after(now or utcnow(), limit=count, inclusive=True)


def preview(user: User, form_data: Mapping, now: datetime | None = None, count: int = 5) -> list[datetime]:
    """Run times (UTC) the schedule on the form would produce if turned on now; ``AutomationError``
    with the schedule's problem otherwise. Writes nothing."""
    return parse_schedule(user, form_data).occurrences_after(now or utcnow(), limit=count, inclusive=True)


def new_form_values(user: User, target: str | None = None) -> dict[str, str | list[str]]:
    """What the form shows for a new automation: monthly on today's day at 09:00 in the
    resident's zone, from today, paid from the wallet."""
    today = today_in(user.effective_timezone)
    return {
        "target": target or "", "amount_mode": "fixed", "amount": "", "payment_source": "wallet",
        "saved_card_id": "", "priority": "normal", "max_per_payment": "", "allow_partial": "", "partial_min": "",
        "catch_up": "latest", "schedule_kind": "monthly_day", "interval_unit": "month", "interval_count": "1",
        "day_of_month": str(today.day), "nth": "1", "weekday": str(today.weekday()), "weekdays": [],
        "time_of_day": "09:00", "timezone": user.effective_timezone, "starts_on": today.isoformat(), "ends_on": "",
        "max_occurrences": "",
    }


def form_values(automation: Automation) -> dict[str, str | list[str]]:
    """An automation as the text its edit form shows."""
    a = automation
    target = f"account:{a.utility_account_id}" if a.target_kind == "utility" else f"bill:{a.bill_type}"
    return {
        "target": target, "amount_mode": a.amount_mode, "amount": naira_text(a.amount_kobo),
        "payment_source": a.payment_source, "saved_card_id": str(a.saved_card_id or ""),
        "priority": PRIORITY_NAMES.get(a.priority, "normal"), "max_per_payment": naira_text(a.max_per_payment_kobo),
        "allow_partial": "y" if a.allow_partial else "", "partial_min": naira_text(a.partial_min_kobo or None),
        "catch_up": a.catch_up, "schedule_kind": a.schedule_kind, "interval_unit": a.interval_unit,
        "interval_count": str(a.interval_count), "day_of_month": str(a.day_of_month or ""),
        "nth": "" if a.nth is None else str(a.nth), "weekday": "" if a.weekday is None else str(a.weekday),
        "weekdays": [str(d) for d in a.weekday_list], "time_of_day": a.time_of_day.strftime("%H:%M"),
        "timezone": a.timezone, "starts_on": a.starts_on.isoformat(),
        "ends_on": a.ends_on.isoformat() if a.ends_on else "", "max_occurrences": str(a.max_occurrences or ""),
    }


# --- writing ----------------------------------------------------------------------------------

def create_automation(user: User, form_data: Mapping, now: datetime | None = None) -> Automation:
    """Save a new automation, switched off. ``AutomationError`` (nothing saved) for bad input."""
    checked = read_automation(user, form_data, now or utcnow())
    automation = Automation(user_id=user.id, estate_id=user.estate_id, enabled=False, next_run_at=None,
                            **checked.row_values())
    db.session.add(automation)
    db.session.commit()
    return automation


def update_automation(user: User, automation_id: int, form_data: Mapping,
                      now: datetime | None = None) -> Automation | None:
    """Change an automation from the same form. A running one is rescheduled from now."""
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    now = now or utcnow()
    checked = read_automation(user, form_data, now)
    for name, value in checked.row_values().items():
        setattr(automation, name, value)
    if automation.enabled and automation.paused_at is None:
        automation.next_run_at = checked.schedule.next_after(now, inclusive=True)
    db.session.commit()
    return automation


def enable(user: User, automation_id: int, now: datetime | None = None) -> Automation | None:
    """Opt in: the first run is the schedule's next occurrence from now (never a past one)."""
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    if automation.enabled:
        return automation
    first = schedule_of(automation).next_after(now or utcnow(), inclusive=True)
    if first is None:
        raise AutomationError({"state": "This schedule has no run dates left. Edit it to move the end date "
                                        "or allow more payments, then turn it on."})
    automation.enabled = True
    automation.next_run_at = first
    automation.consecutive_failures = 0
    db.session.commit()
    return automation


def disable(user: User, automation_id: int) -> Automation | None:
    """Opt out: nothing runs until it is turned on again (which schedules from that moment)."""
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    automation.enabled = False
    automation.next_run_at = None
    automation.paused_at = None
    automation.pause_reason = None
    automation.skip_next = False
    db.session.commit()
    return automation


def pause(user: User, automation_id: int, now: datetime | None = None) -> Automation | None:
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    if not automation.enabled:
        raise AutomationError({"state": "This automation is off; there is nothing to pause."})
    if automation.paused_at is None:
        automation.paused_at = now or utcnow()
        automation.pause_reason = "Paused by you"
        db.session.commit()
    return automation


def resume(user: User, automation_id: int, now: datetime | None = None) -> Automation | None:
    """Continue from the next occurrence after now: runs that fell in the pause are not paid.

    The failure count starts again, so one more failure does not pause it straight away.
    """
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    if automation.paused_at is None:
        return automation
    automation.paused_at = None
    automation.pause_reason = None
    automation.consecutive_failures = 0
    automation.next_run_at = schedule_of(automation).next_after(now or utcnow(), inclusive=True)
    db.session.commit()
    return automation


def skip_next(user: User, automation_id: int, skip: bool = True) -> Automation | None:
    """Skip (or stop skipping) the next run only; ``automation.next_run_at`` is the date skipped."""
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    if skip and state_of(automation) != ON:
        raise AutomationError({"state": "Only an automation that is on has a next run to skip."})
    automation.skip_next = skip
    db.session.commit()
    return automation


def delete(user: User, automation_id: int, now: datetime | None = None) -> Automation | None:
    """Remove it from the resident's list and stop it; its runs and payments stay in the history."""
    automation = get_automation(user.id, automation_id)
    if automation is None:
        return None
    automation.deleted_at = now or utcnow()
    automation.enabled = False
    automation.next_run_at = None
    db.session.commit()
    return automation


__all__ = [
    "FINISHED", "OFF", "ON", "PAUSED", "AutomationError", "create_automation", "delete", "disable", "enable",
    "form_values", "get_automation", "list_automations", "new_form_values", "next_runs", "pause", "preview",
    "recent_occurrences", "resume", "skip_next", "state_of", "target_label", "update_automation",
]
