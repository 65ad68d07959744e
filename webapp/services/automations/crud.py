"""A resident's automations: create, edit, switch on and off, pause, resume, skip, delete.

Every function is scoped to the resident: an id that is not theirs, or that was deleted, gives
None, which the pages show as a 404 (never a 403 that confirms it exists). Input that breaks a rule raises
``AutomationError`` (one message per form field) and changes nothing.

New automations start switched off: nothing is ever paid until the resident turns one on
(opt-in). Turning on, resuming and editing all schedule the next run strictly from *now*, so a
start date in the past, or weeks spent paused, never produce a flood of back payments.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Automation, AutomationOccurrence, User
from webapp.models.base import utcnow
from webapp.services import access
from webapp.services.automations import top_ups
from webapp.services.automations.common import schedule_of
from webapp.services.automations.inputs import BILL_NAMES, AutomationError, AutomationInput, checked
from webapp.services.automations.schedules import RUN_OUT, Schedule

OFF, ON, PAUSED, FINISHED = "off", "on", "paused", "finished"


# --- reading ----------------------------------------------------------------------------------

def list_automations(who: int | access.Scope) -> list[Automation]:
    """The resident's (or household's) automations (not deleted), newest first, with their accounts loaded."""
    return list(db.session.scalars(
        access.own_automations(who).options(selectinload(Automation.utility_account)).order_by(Automation.id.desc())
    ))


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
    # A meter's top-up has no next run while its last one is being bought: it is still on.
    return ON if automation.next_run_at is not None or automation.schedule_kind == RUN_OUT else FINISHED


def target_label(automation: Automation) -> str:
    account = automation.utility_account
    if automation.target_kind == "utility" and account is not None:
        removed = ", removed" if account.removed_at is not None else ""
        return f"{account.nickname} ({account.provider.name}{removed})"
    return f"{BILL_NAMES.get(automation.bill_type or '', 'Estate')} bill"


def next_runs(automation: Automation, now: datetime | None = None, count: int = 5) -> list[datetime]:
    """The next ``count`` run times (UTC) of an automation's schedule from now."""
    return schedule_of(automation).occurrences_after(now or utcnow(), limit=count, inclusive=True)


def preview(schedule: Schedule, now: datetime | None = None, count: int = 5) -> list[datetime]:
    """Run times (UTC) ``schedule`` would produce if turned on now. Writes nothing."""
    return schedule.occurrences_after(now or utcnow(), limit=count, inclusive=True)


# --- writing ----------------------------------------------------------------------------------

def create_automation(user: User, draft: AutomationInput, now: datetime | None = None,
                      made_by: User | None = None) -> Automation:
    """Save a new automation, switched off. ``AutomationError`` (nothing saved) when a rule fails.
    ``made_by``: a member of ``user``'s household setting it up (its payments are theirs)."""
    values = checked(user, draft, now or utcnow())
    automation = Automation(user_id=user.id, estate_id=user.estate_id, enabled=False, next_run_at=None,
                            made_by_id=(made_by or user).id, **values.row_values())
    db.session.add(automation)
    db.session.commit()
    return automation


def update_automation(user: User, automation_id: int, draft: AutomationInput,
                      now: datetime | None = None, made_by: User | None = None) -> Automation | None:
    """Change an automation (the same rules as creating one). A running one is rescheduled from now.
    Whoever changes it (``made_by``, else ``user``) makes its payments from then on."""
    automation = access.own_automation(user.id, automation_id)
    if automation is None:
        return None
    now = now or utcnow()
    values = checked(user, draft, now)
    for name, value in values.row_values().items():
        setattr(automation, name, value)
    automation.made_by_id = (made_by or user).id
    if automation.enabled and automation.paused_at is None:
        automation.next_run_at = _first_run(automation, now)
    db.session.commit()
    return automation


def enable(user: User, automation_id: int, now: datetime | None = None) -> Automation | None:
    """Opt in: the first run is the schedule's next occurrence from now (never a past one)."""
    automation = access.own_automation(user.id, automation_id)
    if automation is None:
        return None
    if automation.enabled:
        return automation
    first = _first_run(automation, now or utcnow())
    if first is None and automation.schedule_kind == RUN_OUT:
        raise AutomationError({"state": "The meter's top-ups do not say yet when it will run out. Buy a top-up "
                                        "or enter its daily usage, then turn it on."})
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
    automation = access.own_automation(user.id, automation_id)
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
    automation = access.own_automation(user.id, automation_id)
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
    """Continue from the next occurrence after now: runs that fell in the pause are not paid (they
    are recorded as skipped, with the reason).

    The failure count starts again, so one more failure does not pause it straight away.
    """
    automation = access.own_automation(user.id, automation_id)
    if automation is None:
        return None
    if automation.paused_at is None:
        return automation
    now = now or utcnow()
    schedule = schedule_of(automation)
    resumes_at = _first_run(automation, now)
    _record_paused_runs(automation, [when for when in schedule.between(automation.next_run_at, now)
                                     if when != resumes_at] if automation.next_run_at and automation.enabled else [])
    automation.paused_at = None
    automation.pause_reason = None
    automation.consecutive_failures = 0
    automation.next_run_at = resumes_at
    db.session.commit()
    return automation


def _first_run(automation: Automation, now: datetime) -> datetime | None:
    """The first run from now: the schedule's next date, or for "before the meter runs out" the
    one planned from the meter's top-ups (then noted as planned now)."""
    if automation.schedule_kind != RUN_OUT:
        return schedule_of(automation).next_after(now, inclusive=True)
    automation.planned_at = now
    return top_ups.first_run(automation, now)


PAUSED_RUN = "Not paid: the automation was paused"
MAX_PAUSED_RUNS = 366  # the latest ones, for a daily automation paused for a year or more


def _record_paused_runs(automation: Automation, runs: list) -> None:
    """The runs that fell in the pause, as skipped occurrences, so "What autopay did" lists them
    (the sweep never sees a paused automation). A time already recorded is left as it is."""
    runs = runs[-MAX_PAUSED_RUNS:]
    if not runs:
        return
    taken = set(db.session.scalars(select(AutomationOccurrence.scheduled_for).where(
        AutomationOccurrence.automation_id == automation.id, AutomationOccurrence.scheduled_for >= runs[0],
        AutomationOccurrence.scheduled_for <= runs[-1])))
    db.session.add_all(AutomationOccurrence(automation_id=automation.id, user_id=automation.user_id,
                                            scheduled_for=when, status="skipped", reason=PAUSED_RUN)
                       for when in runs if when not in taken)


def skip_next(user: User, automation_id: int, skip: bool = True) -> Automation | None:
    """Skip (or stop skipping) the next run only; ``automation.next_run_at`` is the date skipped."""
    automation = access.own_automation(user.id, automation_id)
    if automation is None:
        return None
    if skip and state_of(automation) != ON:
        raise AutomationError({"state": "Only an automation that is on has a next run to skip."})
    automation.skip_next = skip
    db.session.commit()
    return automation


def delete(user: User, automation_id: int, now: datetime | None = None) -> Automation | None:
    """Remove it from the resident's list and stop it; its runs and payments stay in the history."""
    automation = access.own_automation(user.id, automation_id)
    if automation is None:
        return None
    automation.deleted_at = now or utcnow()
    automation.enabled = False
    automation.next_run_at = None
    db.session.commit()
    return automation


__all__ = [
    "FINISHED", "OFF", "ON", "PAUSED", "AutomationError", "AutomationInput", "create_automation", "delete",
    "disable", "enable", "list_automations", "next_runs", "pause", "preview",
    "recent_occurrences", "resume", "skip_next", "state_of", "target_label", "update_automation",
]
