"""Bill plans: an estate bill issued again every month, quarter or year (admins create, edit, pause
and resume them; ``plan_issue`` issues what falls due).

A plan's periods: the months its bills are for, every 1, 3 or 12 months counted from the month it
starts in. Each period is issued on the plan's day of the month (the month's last day when it has
no such day: the 31st issues on 28 or 29 February) and its bills are due ``due_after_days`` later.
A period is issued once; the first day of its month is its key on each bill (see ``models.bill``).

Every admin action writes one audit row in the transaction that does it.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Bill, BillPlan, Estate, PlanFrequency, User
from webapp.models.bill import CLUSTER_BILL_TYPES
from webapp.services import audit
from webapp.services.estate_bills.bills import MAX_TITLE, BillError, estate_residents, estate_today

FREQUENCY_LABELS = {"monthly": "Every month", "quarterly": "Every quarter", "yearly": "Every year"}
MAX_DAYS = 90  # due, grace and reminder days: a quarter is as far as any of them sensibly reaches
MAX_REMINDERS = 6
LATEST_YEAR = 2999
PREVIEW_COUNT = 6
AUDITED = ("title", "bill_type", "amount_kobo", "frequency", "day_of_month", "starts_on", "ends_on",
           "all_residents", "due_after_days", "grace_days", "reminder_days_after", "paused", "issue_from")
SCHEDULE = ("frequency", "day_of_month", "starts_on")


@dataclass(frozen=True)
class PlanIssue:
    """One period of a plan: the month it bills for, the day it is issued and the day it is due."""

    period: date
    issue_on: date
    due_on: date


@dataclass(frozen=True)
class PlanDetails:
    """What an admin sets on a plan, already parsed (the service checks the rules)."""

    title: str
    bill_type: str
    amount_kobo: int
    frequency: str
    day_of_month: int
    starts_on: date | None
    ends_on: date | None
    user_ids: list[int] | None  # None: every resident of the estate
    due_after_days: int = 14
    grace_days: int = 0
    reminder_days_after: tuple[int, ...] = ()


@dataclass(frozen=True)
class PreviewLine:
    issue_on: date
    due_on: date
    residents: int
    amount_kobo: int

    @property
    def total_kobo(self) -> int:
        return self.residents * self.amount_kobo


# --- the schedule ----------------------------------------------------------------------------------

def _month(day: date) -> date:
    return date(day.year, day.month, 1)


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def issues(plan: BillPlan, from_day: date | None = None) -> Iterator[PlanIssue]:
    """The plan's periods in order, from the first issued on or after ``from_day`` (default its start)."""
    anchor, step = _month(plan.starts_on), plan.months_between_issues
    first = plan.starts_on if from_day is None else max(from_day, plan.starts_on)
    index = max(0, _months_between(anchor, first) // step - 1)  # a period or so early: cheap, and never late
    while True:
        period = anchor + relativedelta(months=index * step)
        index += 1
        if period.year > LATEST_YEAR:
            return
        issue_on = period + relativedelta(day=plan.day_of_month)  # relativedelta clamps to the month's end
        if issue_on < first:
            continue
        if plan.ends_on is not None and issue_on > plan.ends_on:
            return
        yield PlanIssue(period, issue_on, issue_on + timedelta(days=plan.due_after_days))


def _still_to_issue(plan: BillPlan) -> Iterator[PlanIssue]:
    for issue in issues(plan, plan.issue_from):
        if plan.last_issued_period is None or issue.period > plan.last_issued_period:
            yield issue


def pending_issues(plan: BillPlan, today: date) -> list[PlanIssue]:
    """Periods due by ``today`` that the plan has not issued yet (none while paused)."""
    if plan.paused:
        return []
    pending = []
    for issue in _still_to_issue(plan):
        if issue.issue_on > today:
            break
        pending.append(issue)
    return pending


def plan_recipients(plan: BillPlan) -> list[User]:
    """Who the plan bills now: the estate's active residents, or the chosen ones still among them."""
    residents = estate_residents(plan.estate_id)
    if plan.all_residents:
        return residents
    chosen = {user.id for user in plan.residents}
    return [user for user in residents if user.id in chosen]


def preview(plan: BillPlan, count: int = PREVIEW_COUNT) -> list[PreviewLine]:
    """The plan's next issues (a period due but not yet issued first), each to today's recipients."""
    if plan.paused:
        return []
    residents = len(plan_recipients(plan))
    return [PreviewLine(issue.issue_on, issue.due_on, residents, plan.amount_kobo)
            for issue in islice(_still_to_issue(plan), count)]


# --- admin: listing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanRow:
    plan: BillPlan
    bills_issued: int
    next_issue_on: date | None


def plans_of(estate_ids: list[int]) -> list[PlanRow]:
    """The estates' plans (active first, then by title) with how many bills each issued."""
    plans = db.session.scalars(select(BillPlan).where(BillPlan.estate_id.in_(estate_ids))
                               .order_by(BillPlan.paused, BillPlan.title, BillPlan.id)).all()
    counts = dict(db.session.execute(
        select(Bill.plan_id, func.count()).where(Bill.plan_id.in_([p.id for p in plans])).group_by(Bill.plan_id)
    ).all()) if plans else {}
    return [PlanRow(plan, counts.get(plan.id, 0), None if plan.paused else next(
        (issue.issue_on for issue in _still_to_issue(plan)), None)) for plan in plans]


def bills_issued(plan_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Bill).where(Bill.plan_id == plan_id))


# --- admin: creating, editing, pausing ----------------------------------------------------------------

def _checked(estate: Estate, details: PlanDetails, *, starts_changed: bool) -> tuple[str, list[User] | None]:
    """The cleaned title and the chosen residents (None: all), or BillError naming the field."""
    title = " ".join((details.title or "").split())
    if not title or len(title) > MAX_TITLE:
        raise BillError(f"Give the plan a title of 1 to {MAX_TITLE} characters.", "title")
    if details.bill_type not in {t.value for t in CLUSTER_BILL_TYPES}:
        raise BillError("Choose a bill type: security, maintenance, service charge or waste management.", "bill_type")
    if type(details.amount_kobo) is not int or details.amount_kobo <= 0:
        raise BillError("Enter an amount greater than ₦0.", "amount")
    if details.frequency not in {f.value for f in PlanFrequency}:
        raise BillError("Choose every month, every quarter or every year.", "frequency")
    if type(details.day_of_month) is not int or not 1 <= details.day_of_month <= 31:
        raise BillError("Choose a day of the month from 1 to 31.", "day_of_month")
    if details.starts_on is None:
        raise BillError("Choose the day the plan starts.", "starts_on")
    if starts_changed and details.starts_on < estate_today(estate):
        raise BillError("Choose a start date from today onwards.", "starts_on")
    if details.starts_on.year > LATEST_YEAR:
        raise BillError(f"Choose a start date before {LATEST_YEAR + 1}.", "starts_on")
    if details.ends_on is not None and details.ends_on < details.starts_on:
        raise BillError("The end date is before the start date.", "ends_on")
    for value, field in ((details.due_after_days, "due_after_days"), (details.grace_days, "grace_days")):
        if type(value) is not int or not 0 <= value <= MAX_DAYS:
            raise BillError(f"Choose from 0 to {MAX_DAYS} days.", field)
    days = details.reminder_days_after
    if len(days) > MAX_REMINDERS or any(type(d) is not int or not 1 <= d <= MAX_DAYS for d in days):
        raise BillError(f"List up to {MAX_REMINDERS} days from 1 to {MAX_DAYS}, like 3,7,14.", "reminder_days_after")
    if details.user_ids is None:
        return title, None
    residents = {user.id: user for user in estate_residents(estate.id)}
    if not details.user_ids or any(uid not in residents for uid in details.user_ids):
        raise BillError("Choose one or more residents of this estate.", "residents")
    return title, [residents[uid] for uid in dict.fromkeys(details.user_ids)]


def _apply(plan: BillPlan, title: str, details: PlanDetails, chosen: list[User] | None) -> None:
    plan.title, plan.bill_type, plan.amount_kobo = title, details.bill_type, details.amount_kobo
    plan.frequency, plan.day_of_month = details.frequency, details.day_of_month
    plan.starts_on, plan.ends_on = details.starts_on, details.ends_on
    plan.due_after_days, plan.grace_days = details.due_after_days, details.grace_days
    plan.reminder_days_after = ",".join(str(d) for d in sorted(set(details.reminder_days_after)))
    plan.all_residents = chosen is None
    plan.residents = chosen or []


def create_plan(estate_id: int, details: PlanDetails, created_by: User | None = None) -> BillPlan:
    """A new plan of the estate (audited). It issues its first period on its first issue day."""
    estate = db.session.get(Estate, estate_id)
    if estate is None:
        raise BillError("Choose an estate.", "estate")
    title, chosen = _checked(estate, details, starts_changed=True)
    plan = BillPlan(estate_id=estate_id, issue_from=details.starts_on,
                    created_by_id=created_by.id if created_by is not None else None)
    _apply(plan, title, details, chosen)
    db.session.add(plan)
    db.session.flush()
    audit.record("bill_plan.create", "bill_plan", plan.id, estate_id=estate_id,
                 after={**audit.snapshot(plan, AUDITED), "user_ids": [u.id for u in plan.residents]})
    db.session.commit()
    return plan


def update_plan(plan: BillPlan, details: PlanDetails) -> BillPlan:
    """Change a plan (audited). Bills already issued stay as they are; a changed schedule issues
    nothing for a day already gone (``issue_from``)."""
    estate = db.session.get(Estate, plan.estate_id)
    title, chosen = _checked(estate, details, starts_changed=details.starts_on != plan.starts_on)
    before = {**audit.snapshot(plan, AUDITED), "user_ids": [u.id for u in plan.residents]}
    schedule_before = tuple(getattr(plan, name) for name in SCHEDULE)
    _apply(plan, title, details, chosen)
    if tuple(getattr(plan, name) for name in SCHEDULE) != schedule_before:
        plan.issue_from = max(plan.starts_on, estate_today(estate))
    audit.record("bill_plan.update", "bill_plan", plan.id, estate_id=plan.estate_id, before=before,
                 after={**audit.snapshot(plan, AUDITED), "user_ids": [u.id for u in plan.residents]})
    db.session.commit()
    return plan


def set_paused(plan: BillPlan, paused: bool) -> BillPlan:
    """Pause (nothing is issued) or resume a plan (audited). Resuming never issues a period whose
    issue day passed while it was paused."""
    if plan.paused == paused:
        raise BillError("This plan is already paused." if paused else "This plan is already running.")
    before = audit.snapshot(plan, ("paused", "issue_from"))
    plan.paused = paused
    if not paused:
        plan.issue_from = max(plan.issue_from, estate_today(db.session.get(Estate, plan.estate_id)))
    audit.record("bill_plan.pause" if paused else "bill_plan.resume", "bill_plan", plan.id,
                 estate_id=plan.estate_id, before=before, after=audit.snapshot(plan, ("paused", "issue_from")))
    db.session.commit()
    return plan
