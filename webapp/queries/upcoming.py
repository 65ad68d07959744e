"""Upcoming payments: the next 30 days of automation runs and estate bills due, with the wallet
balance projected after each, so a resident sees "₦3,500 short for payments due by Friday" while
there is still time to fund the wallet.

Pure computation over the database: no provider calls, nothing written. The projection follows
what the sweep will do: a run marked "skip next" pays nothing; an estate-bill automation pays the
resident's oldest open bill of its type (so such bills are not counted twice); a "full
outstanding" utility amount is only known at run time, so the last amount paid stands in for it.
"""
from __future__ import annotations

from collections import defaultdict, deque
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
from webapp.services.automations import allocation, targets
from webapp.services.automations.common import schedule_of, settings_for
from webapp.services.automations.crud import target_label
from webapp.services.automations.targets import Target


@dataclass(frozen=True)
class UpcomingItem:
    when: datetime  # UTC; a bill is placed at the start of its due day (or now, when overdue)
    kind: str  # "automation" | "bill"
    label: str
    amount_kobo: int | None  # None: decided at run time (full outstanding of a utility)
    fee_kobo: int = 0
    estimate_kobo: int | None = None  # stands in for an amount decided at run time: the last one paid
    priority: int = 0
    skipped: bool = False  # "skip next": shown, not counted
    from_card: bool = False  # charged to a saved card, not the wallet
    overdue: bool = False
    waiting: bool = False  # already due, waiting for money in the wallet
    note: str | None = None
    automation_id: int | None = None
    bill_id: int | None = None
    due_date: date | None = None
    balance_after_kobo: int = 0

    @property
    def counted_kobo(self) -> int:
        """What the projection takes from the wallet for this item (amount plus fee)."""
        if self.skipped or self.from_card:
            return 0
        amount = self.amount_kobo if self.amount_kobo is not None else (self.estimate_kobo or 0)
        return amount + self.fee_kobo if amount > 0 else 0


@dataclass(frozen=True)
class Shortfall:
    date: date  # the first day the projected balance falls below the minimum balance
    short_by_kobo: int  # how much more the wallet needs for everything due by the end of that day
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


def upcoming(user: User, days: int = 30, now: datetime | None = None) -> UpcomingView:
    """Everything due in the next ``days`` days, in date order, with the projected wallet balance."""
    now = now or utcnow()
    until = now + timedelta(days=days)
    zone = ZoneInfo(user.effective_timezone)
    automations = _active_automations(user.id)
    bills = _open_bills(user.id)
    bill_queues: dict[str, deque[list]] = defaultdict(deque)  # bill type -> [bill, remaining] oldest first
    for bill in bills:
        bill_queues[bill.bill_type].append([bill, bill.outstanding_kobo])
    covered = {a.bill_type for a in automations if a.target_kind == "estate_bill"}
    last_amounts = _last_amounts([a.id for a in automations if a.amount_mode == "full_outstanding"])

    runs = _runs(automations, user.id, now, until, days)
    items = [_automation_item(a, when, waiting, skipped, bill_queues, last_amounts)
             for when, a, waiting, skipped in runs]
    today, last_day = now.astimezone(zone).date(), until.astimezone(zone).date()
    for bill in bills:
        if bill.bill_type in covered:
            continue  # the automation's runs pay it
        if bill.status == BillStatus.OVERDUE.value or (bill.due_date is not None and bill.due_date <= last_day):
            items.append(_bill_item(bill, now, today, zone))
    items.sort(key=lambda i: (i.when, i.kind != "bill", -i.priority, i.automation_id or 0, i.bill_id or 0))
    return _project(items, ledger.wallet_balance(user.id), settings_for(user.id).min_balance_kobo,
                    user.effective_timezone, until, today, zone)


# --- gathering --------------------------------------------------------------------------------

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
    """The amount each automation last paid (or tried to), newest first."""
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


def _runs(automations: list[Automation], user_id: int, now: datetime, until: datetime, days: int):
    """(when, automation, waiting, skipped) for runs waiting for money and runs to come, by time."""
    by_id = {a.id: a for a in automations}
    runs = []
    waiting = db.session.scalars(
        select(AutomationOccurrence).where(AutomationOccurrence.user_id == user_id,
                                           AutomationOccurrence.status == OccurrenceStatus.WAITING.value)
    )
    for occurrence in waiting:
        if occurrence.automation_id in by_id:
            runs.append((occurrence.scheduled_for, by_id[occurrence.automation_id], True, False))
    for automation in automations:
        # From the stored next run: one that is due but not swept yet is still to be paid.
        start = min(automation.next_run_at, now) if automation.next_run_at else now
        whens = [w for w in schedule_of(automation).occurrences_after(start, limit=days + 2, inclusive=True)
                 if w <= until]
        past = [w for w in whens if w < now]
        whens = past[-1:] + [w for w in whens if w >= now]  # the sweep pays only the latest missed run
        for index, when in enumerate(whens):
            runs.append((when, automation, False, index == 0 and automation.skip_next))
    runs.sort(key=lambda r: (r[0], -r[1].priority, r[1].id))
    return runs


# --- items ------------------------------------------------------------------------------------

def _limited(a: Automation, target: Target) -> tuple[int, str | None]:
    """What the run pays by the automation's own limits: the sweep's allocation, money aside."""
    decision = allocation.within_limits(allocation.request_for(a, target))
    if decision.outcome == allocation.FULL:
        return decision.amount_kobo, None
    if decision.outcome == allocation.PARTIAL:
        return decision.amount_kobo, "Limited to your spending limit per payment"
    return 0, "Above your spending limit per payment, so it will not be paid"


def _automation_item(a: Automation, when: datetime, waiting: bool, skipped: bool, bill_queues, last_amounts):
    base = {"when": when, "kind": "automation", "label": target_label(a), "automation_id": a.id,
            "priority": a.priority, "skipped": skipped, "waiting": waiting, "from_card": a.payment_source == "card"}
    notes = ["Waiting for money in your wallet"] if waiting else []
    if skipped:
        notes.append("Skipped at your request")
    if base["from_card"]:
        notes.append("Charged to your saved card")
    if a.target_kind == "estate_bill":
        amount, bill_note, bill_id = _take_from_bills(a, bill_queues, consume=not skipped)
        notes.extend(n for n in (bill_note,) if n)
        return UpcomingItem(amount_kobo=amount, bill_id=bill_id, note="; ".join(notes) or None, **base)
    account = a.utility_account
    fee = account.provider.fee_kobo if account is not None else 0
    if a.amount_mode == "fixed":
        amount, limit_note = _limited(a, targets.target_for(a))
        notes.extend(n for n in (limit_note,) if n)
        return UpcomingItem(amount_kobo=amount, fee_kobo=fee, note="; ".join(notes) or None, **base)
    notes.append("Amount decided at run time")
    estimate = last_amounts.get(a.id)
    return UpcomingItem(amount_kobo=None, estimate_kobo=estimate, fee_kobo=fee, note="; ".join(notes), **base)


def _take_from_bills(a: Automation, bill_queues, consume: bool) -> tuple[int, str | None, int | None]:
    """What an estate-bill run pays: the oldest open bill of its type (all of it, or up to the
    fixed amount), taken off that bill so later runs and the bill list do not count it again."""
    queue = bill_queues.get(a.bill_type)
    while queue and queue[0][1] <= 0:
        queue.popleft()
    if not queue:
        return 0, "Nothing to pay unless a new bill is issued", None
    entry = queue[0]
    bill, remaining = entry
    wanted = remaining if a.amount_mode == "full_outstanding" else min(remaining, a.amount_kobo or 0)
    amount, note = _limited(a, Target(wanted, "estate_bill", bill_id=bill.id))
    if consume:
        entry[1] -= amount
    return amount, note or f"Pays “{bill.title}”", bill.id


def _bill_item(bill: Bill, now: datetime, today: date, zone: ZoneInfo) -> UpcomingItem:
    overdue = bill.status == BillStatus.OVERDUE.value or bill.due_date is None or bill.due_date < today
    when = now
    if not overdue:
        when = max(now, datetime.combine(bill.due_date, time(0, 0), tzinfo=zone).astimezone(UTC))
    return UpcomingItem(
        when=when, kind="bill", label=bill.title,
        amount_kobo=bill.outstanding_kobo, bill_id=bill.id, due_date=bill.due_date, overdue=overdue,
        note="Overdue" if overdue else "Estate bill due; pay it from your wallet",
    )


# --- projection -------------------------------------------------------------------------------

def _project(items: list[UpcomingItem], balance: int, min_balance: int, timezone: str, until: datetime,
             today: date, zone: ZoneInfo) -> UpcomingView:
    start = balance
    projected: list[UpcomingItem] = []
    breach_day: date | None = None
    lowest_that_day = balance
    for item in items:
        # The sweep's rule: automation never spends below the minimum balance.
        affordable = item.counted_kobo <= allocation.spendable_kobo(balance, min_balance)
        balance -= item.counted_kobo
        projected.append(replace(item, balance_after_kobo=balance))
        day = max(item.when.astimezone(zone).date(), today)
        if breach_day is None and item.counted_kobo and not affordable:
            breach_day = day
        if breach_day == day:
            lowest_that_day = balance
    shortfall = None
    if breach_day is not None:
        shortfall = Shortfall(date=breach_day, short_by_kobo=min_balance - lowest_that_day,
                              due_by=_day_words(breach_day, today))
    return UpcomingView(items=projected, start_balance_kobo=start, min_balance_kobo=min_balance,
                        timezone=timezone, until=until, shortfall=shortfall)


def _day_words(day: date, today: date) -> str:
    ahead = (day - today).days
    if ahead <= 0:
        return "today"
    if ahead < 7:
        return format_date(day, "EEEE", locale=LOCALE)
    return format_date(day, "d MMMM", locale=LOCALE)
