"""Upcoming payments: the next 31 days (so every monthly run shows its next one) of automation
runs and estate bills, each with what the sweep will pay (caps, per-payment limits, the minimum
balance, priority and partial payments applied by the sweep's own ``allocation.decide_runs``,
through ``automations.projection``), grouped by week from Monday with a total per week and per
month, and the first shortfall with the top-up that covers it ("₦3,500 short for payments due by
Wednesday": add ₦3,500).

Pure computation over the database: no provider calls, nothing written. A "full outstanding"
utility amount is only known at run time, so an estimate from the account's past bills stands in
for it (``automations.prediction``: expected amount and range), or without any paid bill the amount
the provider last reported; either is marked so.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Automation, AutomationOccurrence, Bill, BillStatus, OccurrenceStatus, User
from webapp.models.base import utcnow
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.money import LOCALE, whole_naira
from webapp.services import ledger
from webapp.services.automations import prediction, projection, top_ups
from webapp.services.automations.common import automation_spend_this_month, schedule_of, settings_for
from webapp.services.automations.crud import target_label
from webapp.services.automations.projection import ManualBill, Outcome, Projection, Rules, Run
from webapp.services.automations.schedules import RUN_OUT

HORIZON_DAYS = 31  # the longest month: a monthly automation always shows its next run
NEXT_DAYS = 7  # the home screen's "am I covered?": this many days ahead,
NEXT_SHOWN = 5  # and at most this many payments listed
# Statuses of a projected row that take nothing from the wallet, with the words the page shows.
NOT_PAID = {"capped": "Not paid: limit", "short": "Not covered", "skipped": "Skipped", "nothing": "Nothing to pay",
            "unknown": "At run time"}


@dataclass(frozen=True)
class UpcomingItem:
    when: datetime  # UTC: when it is paid, or when it falls due (an estate bill: the start of its due day)
    kind: str  # "automation" | "bill"
    label: str
    status: str  # paid | partial | capped | short | skipped | nothing | unknown | bill (see projection.Outcome)
    amount_kobo: int | None  # what the sweep pays (None: decided at run time, nothing to stand in)
    wanted_kobo: int | None = None  # what the run asks for before limits and money
    fee_kobo: int = 0
    estimate: bool = False  # the amount stands in for one decided at run time (see estimate_low_kobo)
    estimate_low_kobo: int | None = None  # the range of the account's recent bills, with the estimate
    estimate_high_kobo: int | None = None
    priority: int = 0
    from_card: bool = False  # charged to a saved card, not the wallet
    overdue: bool = False
    waiting: bool = False  # already due, waiting for money in the wallet
    note: str | None = None
    automation_id: int | None = None
    bill_id: int | None = None
    due_date: date | None = None
    balance_after_kobo: int = 0

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"

    @property
    def covered(self) -> bool:
        """The wallet (or a saved card) pays all of it."""
        return self.status == "paid" or (self.status == "bill" and self.balance_after_kobo >= 0)

    @property
    def counted_kobo(self) -> int:
        """What the projection takes from the wallet for this row (amount plus fee)."""
        if self.from_card or not self.amount_kobo or self.status not in ("paid", "partial", "bill"):
            return 0
        return self.amount_kobo + self.fee_kobo

    @property
    def status_words(self) -> str:
        if self.status == "partial":
            return "Part paid"
        if self.status == "bill":
            return "Overdue" if self.overdue else "Due"
        return NOT_PAID.get(self.status, "Covered")


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    label: str  # "This week", "Next week", "Week of 20 Jan"
    items: list[UpcomingItem]
    open: bool  # shown expanded: this week, and the week of the first shortfall

    @property
    def total_kobo(self) -> int:
        return sum(item.counted_kobo for item in self.items)


@dataclass(frozen=True)
class MonthTotal:
    label: str  # "January 2025"
    total_kobo: int


@dataclass(frozen=True)
class Shortfall:
    date: date  # the first day something due cannot be paid in full from the wallet
    short_by_kobo: int  # the least top-up today that pays everything due by the end of that day
    due_by: str  # "today", "Friday" (within a week) or "14 March"

    @property
    def message(self) -> str:
        return f"{whole_naira(self.short_by_kobo)} short for payments due by {self.due_by}"

    @property
    def sentence(self) -> str:
        return f"{self.message} — fund wallet"


@dataclass(frozen=True)
class UpcomingView:
    items: list[UpcomingItem]
    weeks: list[Week]
    months: list[MonthTotal]
    start_balance_kobo: int
    min_balance_kobo: int
    timezone: str
    until: datetime
    shortfall: Shortfall | None

    @property
    def end_balance_kobo(self) -> int:
        return self.items[-1].balance_after_kobo if self.items else self.start_balance_kobo

    @property
    def total_due_kobo(self) -> int:
        return sum(item.counted_kobo for item in self.items)

    @property
    def not_covered(self) -> list[UpcomingItem]:
        return [item for item in self.items if item.status in ("short", "partial", "capped")]


@dataclass(frozen=True)
class _Inputs:
    runs: list[Run]
    manual: list[ManualBill]
    bills_by_type: dict[str, list[Bill]]
    estimates: dict[int, int]
    bill_estimates: dict[int, prediction.BillEstimate]  # automation id -> from the account's past bills
    spent: dict[str, int]
    rules: Rules


def upcoming(user: User, days: int = HORIZON_DAYS, now: datetime | None = None) -> UpcomingView:
    """Everything due in the next ``days`` days, in date order, as the sweep would pay it."""
    now = now or utcnow()
    until = now + timedelta(days=days)
    zone = ZoneInfo(user.effective_timezone)
    inputs = _gather(user, now, until, days, zone)
    balance = ledger.wallet_balance(user.id)
    result = _project(inputs, balance, now, until)
    items = _items(result, inputs.bill_estimates)
    today = now.astimezone(zone).date()
    shortfall = _shortfall(inputs, result, balance, now, until, zone, today)
    return UpcomingView(items=items, weeks=_weeks(items, zone, today, shortfall), months=_months(items, zone),
                        start_balance_kobo=balance, min_balance_kobo=inputs.rules.min_balance_kobo,
                        timezone=user.effective_timezone, until=until, shortfall=shortfall)


def _project(inputs: _Inputs, balance: int, now: datetime, until: datetime) -> Projection:
    return projection.project(inputs.runs, inputs.manual, inputs.bills_by_type, inputs.estimates,
                              balance_kobo=balance, spent_this_month=inputs.spent, now=now, until=until,
                              rules=inputs.rules)


# --- gathering --------------------------------------------------------------------------------

def _gather(user: User, now: datetime, until: datetime, days: int, zone: ZoneInfo) -> _Inputs:
    settings = settings_for(user.id)
    automations = _active_automations(user.id)
    bills = _open_bills(user.id)
    covered = {a.bill_type for a in automations if a.target_kind == "estate_bill"}
    bills_by_type: dict[str, list[Bill]] = defaultdict(list)
    manual = []
    today, last_day = now.astimezone(zone).date(), until.astimezone(zone).date()
    for bill in bills:
        if bill.bill_type in covered:
            bills_by_type[bill.bill_type].append(bill)  # the automation's runs pay it, oldest first
        elif bill.status == BillStatus.OVERDUE.value or (bill.due_date is not None and bill.due_date <= last_day):
            manual.append(_manual_bill(bill, now, today, zone))
    bill_estimates = prediction.estimates_for(automations)
    forecasts = top_ups.forecasts_for(automations, now)
    # Without a paid bill, the amount the provider reported at the automation's last run stands in.
    estimates = _last_amounts([a.id for a in automations
                               if a.amount_mode == "full_outstanding" and a.id not in bill_estimates])
    estimates |= {automation_id: found.expected_kobo for automation_id, found in bill_estimates.items()}
    estimates |= {automation_id: found.amount_kobo for automation_id, found in forecasts.items()
                  if found.amount_kobo}  # "enough for N days": at the predicted usage and recent price
    return _Inputs(
        runs=_runs(automations, user.id, now, until, days, timedelta(hours=settings.grace_hours), forecasts),
        manual=manual, bills_by_type=dict(bills_by_type), estimates=estimates, bill_estimates=bill_estimates,
        spent=automation_spend_this_month(user.id, now, user.effective_timezone),
        rules=Rules(min_balance_kobo=settings.min_balance_kobo, type_caps_kobo=settings.type_caps(),
                    monthly_cap_kobo=settings.monthly_cap_kobo, timezone=user.effective_timezone),
    )


def _active_automations(user_id: int) -> list[Automation]:
    return list(db.session.scalars(
        select(Automation).where(Automation.user_id == user_id, Automation.enabled.is_(True),
                                 Automation.paused_at.is_(None), Automation.deleted_at.is_(None))
        .options(selectinload(Automation.utility_account)).order_by(Automation.id)
    ))


def _open_bills(user_id: int) -> list[Bill]:
    return list(db.session.scalars(
        select(Bill).where(Bill.user_id == user_id, Bill.status.in_(OPEN_BILL_STATUSES))
        .order_by(Bill.due_date.is_(None), Bill.due_date, Bill.id)
    ))


def _last_amounts(automation_ids: list[int]) -> dict[int, int]:
    """The amount each automation last wanted at a run (the provider's outstanding amount then)."""
    if not automation_ids:
        return {}
    rows = db.session.execute(
        select(AutomationOccurrence.automation_id, AutomationOccurrence.amount_kobo)
        .where(AutomationOccurrence.automation_id.in_(automation_ids), AutomationOccurrence.amount_kobo.is_not(None))
        .order_by(AutomationOccurrence.scheduled_for.desc())
    ).all()
    found: dict[int, int] = {}
    for automation_id, amount in rows:
        found.setdefault(automation_id, amount)
    return found


def _runs(automations: list[Automation], user_id: int, now: datetime, until: datetime, days: int,
          grace: timedelta, forecasts: dict[int, top_ups.Forecast]) -> list[Run]:
    """Runs waiting for money (recorded earlier, so the sweep decides them first) and runs to come,
    numbered in the order the sweep records and decides them."""
    by_id = {a.id: a for a in automations}
    waiting = db.session.scalars(
        select(AutomationOccurrence).where(AutomationOccurrence.user_id == user_id,
                                           AutomationOccurrence.status == OccurrenceStatus.WAITING.value)
        .order_by(AutomationOccurrence.scheduled_for, AutomationOccurrence.id)
    )
    found = [(occ.scheduled_for, by_id[occ.automation_id], now, occ.retry_until or now + grace, False, True)
             for occ in waiting if occ.automation_id in by_id]
    coming = []
    for automation in automations:
        # From the stored next run: one that is due but not swept yet is still to be paid.
        start = min(automation.next_run_at, now) if automation.next_run_at else now
        schedule = schedule_of(automation)
        if automation.id in forecasts:  # a meter's top-ups: the next planned, then one each time it would run out
            schedule = replace(schedule, every=forecasts[automation.id].every)
        whens = [w for w in schedule.occurrences_after(start, limit=days + 2, inclusive=True) if w <= until]
        past = [w for w in whens if w < now]
        whens = past[-1:] + [w for w in whens if w >= now]  # the sweep pays only the latest missed run
        for index, when in enumerate(whens):
            coming.append((when, automation, max(when, now), when + grace, index == 0 and automation.skip_next, False))
    coming.sort(key=lambda r: (r[2], r[1].id))
    return [Run(order=order, automation=automation, scheduled_for=when, due_at=due_at, retry_until=retry_until,
                skipped=skipped, waiting=waiting)
            for order, (when, automation, due_at, retry_until, skipped, waiting) in enumerate(found + coming)]


def _manual_bill(bill: Bill, now: datetime, today: date, zone: ZoneInfo) -> ManualBill:
    overdue = bill.status == BillStatus.OVERDUE.value or bill.due_date is None or bill.due_date < today
    when = now
    if not overdue:
        when = max(now, datetime.combine(bill.due_date, time(0, 0), tzinfo=zone).astimezone(UTC))
    return ManualBill(when=when, bill=bill, overdue=overdue)


# --- rows, weeks and months -------------------------------------------------------------------

def _items(result: Projection, bill_estimates: dict[int, prediction.BillEstimate]) -> list[UpcomingItem]:
    balance = result.start_balance_kobo
    items = []
    for outcome in result.outcomes:
        item = _item(outcome, bill_estimates)
        balance -= item.counted_kobo
        items.append(replace(item, balance_after_kobo=balance))
    return items


def _item(outcome: Outcome, bill_estimates: dict[int, prediction.BillEstimate]) -> UpcomingItem:
    if outcome.manual is not None:
        bill = outcome.manual.bill
        return UpcomingItem(when=outcome.when, kind="bill", label=bill.title, status="bill",
                            amount_kobo=outcome.amount_kobo, wanted_kobo=outcome.amount_kobo, bill_id=bill.id,
                            due_date=bill.due_date, overdue=outcome.manual.overdue, note=outcome.note)
    run = outcome.run
    automation = run.automation
    notes = [n for n in ("Waiting for money in your wallet" if run.waiting else None,
                         "Charged to your saved card" if outcome.from_card else None, outcome.note) if n]
    found = bill_estimates.get(automation.id) if outcome.estimate else None
    if automation.schedule_kind == RUN_OUT:
        notes.insert(0, "Tops up before the meter runs out")
    if found is not None:
        notes.append(f"{found.words}; the bill decides at run time")
    elif outcome.estimate and automation.amount_mode == "cover_days":
        notes.append(f"Enough for {automation.cover_days} days at the meter's predicted use and recent price")
    elif outcome.estimate:
        notes.append("Amount decided at run time; the amount the provider last reported stands in")
    elif outcome.status == "unknown":
        notes = [n for n in notes if n != outcome.note] + ["Amount decided at run time"]
    if outcome.bill_id and automation.target_kind == "estate_bill" and outcome.status in ("paid", "partial"):
        notes.append("Pays an estate bill")
    return UpcomingItem(
        when=outcome.when, kind="automation", label=target_label(automation), status=outcome.status,
        amount_kobo=outcome.amount_kobo, wanted_kobo=outcome.wanted_kobo, fee_kobo=outcome.fee_kobo,
        estimate=outcome.estimate, estimate_low_kobo=found.low_kobo if found else None,
        estimate_high_kobo=found.high_kobo if found else None, priority=automation.priority,
        from_card=outcome.from_card, waiting=run.waiting,
        note="; ".join(dict.fromkeys(notes)) or None, automation_id=automation.id, bill_id=outcome.bill_id,
    )


def _weeks(items: list[UpcomingItem], zone: ZoneInfo, today: date, shortfall: Shortfall | None) -> list[Week]:
    this_monday = today - timedelta(days=today.weekday())
    grouped: dict[date, list[UpcomingItem]] = defaultdict(list)
    for item in items:
        day = max(item.when.astimezone(zone).date(), today)
        grouped[day - timedelta(days=day.weekday())].append(item)
    short_monday = shortfall.date - timedelta(days=shortfall.date.weekday()) if shortfall else None
    weeks = []
    for monday in sorted(grouped):
        if monday == this_monday:
            label = "This week"
        elif monday == this_monday + timedelta(days=7):
            label = "Next week"
        else:
            label = f"Week of {format_date(monday, 'd MMM', locale=LOCALE)}"
        weeks.append(Week(start=monday, label=label, items=grouped[monday],
                          open=monday in (this_monday, short_monday) or not weeks))
    return weeks


def _months(items: list[UpcomingItem], zone: ZoneInfo) -> list[MonthTotal]:
    totals: dict[tuple[int, int], int] = {}
    for item in items:
        local = item.when.astimezone(zone)
        key = (local.year, local.month)
        totals[key] = totals.get(key, 0) + item.counted_kobo
    return [MonthTotal(format_date(date(year, month, 1), "MMMM y", locale=LOCALE), total)
            for (year, month), total in sorted(totals.items())]


# --- the first shortfall ----------------------------------------------------------------------

def _shortfall(inputs: _Inputs, result: Projection, balance: int, now: datetime, until: datetime, zone: ZoneInfo,
               today: date) -> Shortfall | None:
    """The first day something due cannot be paid in full from the wallet, and the least top-up
    today (whole naira) after which the same projection pays everything due by the end of that day."""
    if result.first_short_at is None:
        return None
    day = max(result.first_short_at.astimezone(zone).date(), today)

    def covers(extra: int) -> bool:
        again = _project(inputs, balance + extra, now, until).first_short_at
        return again is None or again.astimezone(zone).date() > day

    # Enough for certain: everything wanted by then, with fees, and the way back up to the minimum.
    high = max(0, inputs.rules.min_balance_kobo - balance) + sum(
        (o.wanted_kobo or 0) + o.fee_kobo for o in result.outcomes
        if not o.from_card and max(o.when.astimezone(zone).date(), today) <= day)
    high = -(-high // 100) * 100
    low = 0  # does not cover
    if not covers(high):
        return Shortfall(date=day, short_by_kobo=high, due_by=_day_words(day, today))
    while high - low > 100:  # whole naira: the least amount of ₦1 steps that covers
        middle = (low + high) // 200 * 100
        if middle <= low:
            break
        if covers(middle):
            high = middle
        else:
            low = middle
    return Shortfall(date=day, short_by_kobo=high, due_by=_day_words(day, today))


def _day_words(day: date, today: date) -> str:
    ahead = (day - today).days
    if ahead <= 0:
        return "today"
    if ahead < 7:
        return format_date(day, "EEEE", locale=LOCALE)
    return format_date(day, "d MMMM", locale=LOCALE)
