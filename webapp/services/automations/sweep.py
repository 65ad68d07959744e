"""The sweep: once a minute, turn due automation occurrences into payments, exactly once.

Residents with something due are swept in chunks, one transaction each, with a few statements per
chunk rather than per resident (DESIGN §9). First, with no lock held, what each due automation
wants to pay (this may ask providers). Then, in the transaction: lock the chunk's due automations,
record their occurrences with one multi-row INSERT (unique per automation and scheduled time),
advance ``next_run_at``; read the residents' settings, wallets and month's spending and the
occurrences due or still waiting for money, one query each for the whole chunk; apply the
allocation rules (priority, limits, caps, minimum balance, partial payments) to each resident in
memory; create the payments in bulk; commit; then enqueue them.

A second sweep for the same minute finds ``next_run_at`` already moved and the occurrences it
would pay locked or decided. Should an occurrence or payment key be taken anyway, the chunk is
rolled back and its residents are swept one by one, each in a savepoint: the one another sweep
got to first is left to it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from webapp.extensions import db
from webapp.infra import bulk_writes, sqlite_files
from webapp.models import Bill, Payment, PaymentStatus, User
from webapp.models.automation import Automation, AutomationOccurrence, AutomationSettings, OccurrenceStatus
from webapp.models.base import utcnow
from webapp.services import ledger, notify, payments
from webapp.services.automations import reasons, top_ups
from webapp.services.automations.allocation import (
    FULL,
    LIMIT_REACHED,
    PARTIAL,
    Decision,
    decide_runs,
    request_for,
)
from webapp.services.automations.common import automation_spend_by_resident, schedule_of, settings_for_many
from webapp.services.automations.targets import Target, desired_amounts
from webapp.services.payments import creation  # by module: payments imports automations back

log = logging.getLogger(__name__)
Occ = OccurrenceStatus
E = notify.NotificationEvent
# The bulk UPDATEs (by primary key) leave the objects the session holds as they were; the locked
# reads refresh them (populate_existing), so a rolled-back attempt leaves nothing out of date.
SYNC_NOTHING = {"synchronize_session": False}
Created = list[tuple[int, str]]  # the (id, reference) of new ``created`` payments, to enqueue after the commit


@dataclass
class SweepReport:
    residents: int = 0
    payments: int = 0
    waiting: int = 0
    skipped: int = 0
    missed: int = 0
    limited: int = 0
    created: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (f"sweep: {self.residents} residents, {self.payments} payments, {self.waiting} waiting for money, "
                f"{self.skipped} skipped, {self.missed} missed, {self.limited} stopped by limits")

    def add(self, other: SweepReport) -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _active(now: datetime):
    return (Automation.enabled.is_(True), Automation.paused_at.is_(None), Automation.deleted_at.is_(None),
            Automation.next_run_at <= now)


def due_user_ids(now: datetime) -> list[int]:
    due = select(Automation.user_id).where(*_active(now))
    waiting = select(AutomationOccurrence.user_id).where(AutomationOccurrence.status == Occ.WAITING.value)
    ids = sorted(set(db.session.scalars(union(due, waiting))))
    db.session.rollback()
    return ids


# Residents swept in one transaction. The first transaction is small so the workers get payments at
# once; later ones grow, so a big sweep waits for the database's write lock (which the busy workers
# also want) a few times rather than once per resident.
FIRST_BATCH, MAX_BATCH = 4, 32


def batches(user_ids: list[int]) -> list[list[int]]:
    out, start, size = [], 0, FIRST_BATCH
    while start < len(user_ids):
        out.append(user_ids[start:start + size])
        start, size = start + size, min(MAX_BATCH, size * 2)
    return out


def run_sweep(now: datetime | None = None) -> SweepReport:
    now = now or utcnow()
    report = SweepReport()
    top_ups.refresh(now)  # "before my meter runs out": plan the runs whose last one has ended
    for batch in batches(due_user_ids(now)):
        created = sweep_residents(batch, now, report)
        report.residents += len(batch)
        payments.enqueue_many(created)
        notify.enqueue_pending_emails()
    return report


def sweep_residents(user_ids: list[int], now: datetime, report: SweepReport) -> Created:
    """Sweep these residents in one transaction; the ``(id, reference)`` of the ``created``
    payments to enqueue after the commit."""
    with sqlite_files.reading():  # SQLite: no write lock held across these provider calls
        wanted = desired_amounts(user_ids, now)  # may call providers: before any lock is taken
        db.session.rollback()  # SQLite: a read-then-write transaction fails at once if a worker committed between
    try:
        created = _attempt(user_ids, wanted, now, report)
    except IntegrityError:
        created = []  # one by one: the resident another sweep got to first is left to it
        for user_id in user_ids:
            try:
                created += _attempt([user_id], wanted, now, report)
            except IntegrityError:
                log.info("sweep: resident %s was swept concurrently", user_id)
    payments.record_jobs(payments.plan_jobs(created))  # which batch job buys each (the relay's clue)
    db.session.commit()
    return created


def _attempt(user_ids: list[int], wanted: dict[int, Target], now: datetime, report: SweepReport) -> Created:
    """``_sweep`` in a savepoint, its counts added to ``report`` if it holds. The append-only rows
    (events, notifications) are written at the end, inside the savepoint."""
    mine = SweepReport()
    with db.session.begin_nested(), bulk_writes.deferred():
        created = _sweep(user_ids, wanted, now, mine)
    report.add(mine)
    return created


@dataclass
class Resident:
    """What the allocation needs to know of one resident, read for the whole chunk at once."""

    user: User
    settings: AutomationSettings
    wallet_balance_kobo: int
    spent_kobo: dict[str, int]  # this month's automation payments by utility type
    waiting: list[AutomationOccurrence] = field(default_factory=list)


@dataclass(frozen=True)
class ToPay:
    occurrence: AutomationOccurrence
    automation: Automation
    target: Target
    decision: Decision


@dataclass
class Chunk:
    """One transaction's sweep: the targets read before the lock, the automations it loaded (kept
    referenced: the session holds clean objects weakly and would load each again), and what it
    decided for the occurrences and whom it will tell, written once the payments exist."""

    now: datetime
    wanted: dict[int, Target]
    report: SweepReport
    automations: dict[int, Automation] = field(default_factory=dict)
    decided: list[dict] = field(default_factory=list)  # occurrences' new columns, by id
    notes: list[tuple[int, E, dict]] = field(default_factory=list)

    def decide(self, occ: AutomationOccurrence, status: OccurrenceStatus, reason: str | None, *,
               payment_id: int | None = None, amount_kobo: int | None = None) -> None:
        """What becomes of a waiting occurrence (unless nothing changes): ``write`` writes them all."""
        if (status.value, reason, payment_id) != (occ.status, occ.reason, occ.payment_id):
            self.decided.append({"id": occ.id, "status": status.value, "reason": reason, "payment_id": payment_id,
                                 "amount_kobo": amount_kobo})

    def tell(self, user_id: int, event: E, **message) -> None:
        self.notes.append((user_id, event, message))

    def write(self, users: dict[int, User]) -> None:
        """The decided occurrences with one UPDATE (by primary key, an executemany), then the
        notifications (the residents' choices read in one query)."""
        if self.decided:
            db.session.execute(update(AutomationOccurrence), self.decided, execution_options=SYNC_NOTHING)
        if self.notes:
            chosen = notify.recipients([users[user_id] for user_id, _, _ in self.notes],
                                       {event for _, event, _ in self.notes})
            for user_id, event, message in self.notes:
                notify.notify(user_id, event, to=chosen[user_id, event], **message)


def _sweep(user_ids: list[int], wanted: dict[int, Target], now: datetime, report: SweepReport) -> Created:
    """The chunk's writes, inside the caller's savepoint: a fixed number of statements however many
    residents it has (the notifications aside)."""
    chunk = Chunk(now, wanted, report)
    chunk.automations = {a.id: a for a in _lock_due(user_ids, now)}
    settings = settings_for_many(user_ids)
    _record_due_occurrences(chunk, settings)
    waiting = _lock_waiting(user_ids)
    _load_automations(chunk, {occ.automation_id for occ in waiting})
    users = {user.id: user for user in db.session.scalars(
        select(User).where(User.id.in_(user_ids)).options(joinedload(User.estate)))}
    balances = ledger.wallet_balances(user_ids)
    spent = automation_spend_by_resident({user.id: user.effective_timezone for user in users.values()}, now)
    residents = {user_id: Resident(users[user_id], settings[user_id], balances[user_id], spent[user_id])
                 for user_id in user_ids}
    for occ in waiting:
        residents[occ.user_id].waiting.append(occ)
    to_pay = [item for resident in residents.values() for item in _allocate_waiting(chunk, resident)]
    made = _pay(chunk, to_pay, users)
    chunk.write(users)
    return [(p.id, p.reference) for p in made if p.status == PaymentStatus.CREATED]


def _lock_due(user_ids: list[int], now: datetime) -> list[Automation]:
    if db.session.get_bind().dialect.name == "sqlite":  # take the write lock before reading
        db.session.execute(update(Automation).where(Automation.user_id.in_(user_ids), *_active(now))
                           .values(id=Automation.id), execution_options=SYNC_NOTHING)
    return list(db.session.scalars(
        select(Automation).where(Automation.user_id.in_(user_ids), *_active(now))
        .options(selectinload(Automation.utility_account))  # with its catalogue entry (joined)
        .order_by(Automation.id).with_for_update().execution_options(populate_existing=True)
    ))


def _lock_waiting(user_ids: list[int]) -> list[AutomationOccurrence]:
    """The residents' occurrences waiting for money, oldest first, locked: a concurrent sweep waits
    for this one's decisions instead of paying them too."""
    return list(db.session.scalars(
        select(AutomationOccurrence)
        .where(AutomationOccurrence.user_id.in_(user_ids), AutomationOccurrence.status == Occ.WAITING.value)
        .order_by(AutomationOccurrence.scheduled_for, AutomationOccurrence.id).with_for_update()
        .execution_options(populate_existing=True)
    ))


def _load_automations(chunk: Chunk, automation_ids: set[int]) -> None:
    """The automations of earlier occurrences still waiting (not due again now), in one query."""
    missing = automation_ids - chunk.automations.keys()
    if missing:
        chunk.automations |= {a.id: a for a in db.session.scalars(
            select(Automation).where(Automation.id.in_(missing)).options(selectinload(Automation.utility_account)))}


def _record_due_occurrences(chunk: Chunk, settings: dict[int, AutomationSettings]) -> None:
    """Record every due occurrence of the locked automations and move the automations on: one
    INSERT and one UPDATE for the chunk."""
    tolerance = timedelta(minutes=current_app.config["AUTOMATION_LATE_TOLERANCE_MINUTES"])
    moved, rows = [], []
    for automation in chunk.automations.values():
        grace = timedelta(hours=settings[automation.user_id].grace_hours)
        after, occurrences = _run(automation, chunk.now, grace, tolerance, chunk.report)
        moved.append(after)
        rows += occurrences
    if rows:  # NULLs written as such, so that every row names the same columns: one multi-row INSERT
        db.session.execute(insert(AutomationOccurrence).execution_options(render_nulls=True), rows)
    if moved:
        db.session.execute(update(Automation), moved, execution_options=SYNC_NOTHING)  # by primary key


def _run(automation: Automation, now: datetime, grace: timedelta, tolerance: timedelta,
         report: SweepReport) -> tuple[dict, list[dict]]:
    """The automation's run now: its columns afterwards, and its due occurrences to record."""
    schedule = schedule_of(automation)
    due = schedule.between(automation.next_run_at, now)
    after = {"id": automation.id, "next_run_at": schedule.next_after(now), "last_run_at": now,
             "occurrences_done": automation.occurrences_done + len(due), "skip_next": automation.skip_next}
    if not due:
        return after, []
    *missed, latest = due
    if automation.catch_up == "none" and now - latest > tolerance:
        missed, latest = due, None
    rows = [_occurrence(automation, when, Occ.SKIPPED, "Missed while payments were paused; only the latest is paid")
            for when in missed]
    report.skipped += len(missed)
    if latest is None:
        return after, rows
    if automation.skip_next:
        after["skip_next"] = False
        report.skipped += 1
        return after, [*rows, _occurrence(automation, latest, Occ.SKIPPED, "Skipped at your request")]
    return after, [*rows, _occurrence(automation, latest, Occ.WAITING, None, retry_until=latest + grace)]


def _occurrence(automation: Automation, when: datetime, status: OccurrenceStatus, reason: str | None,
                retry_until: datetime | None = None) -> dict:
    return {"automation_id": automation.id, "user_id": automation.user_id, "scheduled_for": when,
            "status": status.value, "reason": reason, "retry_until": retry_until}


def _allocate_waiting(chunk: Chunk, resident: Resident) -> list[ToPay]:
    """Decide the resident's waiting occurrences: those to pay are returned, the others decided on
    ``chunk`` (with their notifications)."""
    user, settings, report, now = resident.user, resident.settings, chunk.report, chunk.now
    requests, by_key = [], {}
    for occ in resident.waiting:
        automation = chunk.automations[occ.automation_id]
        if occ.retry_until is not None and occ.retry_until < now:
            reason = reasons.missed(occ.reason, settings)
            chunk.decide(occ, Occ.MISSED, reason)
            report.missed += 1
            chunk.tell(user.id, E.PAYMENT_FAILED, title="Automatic payment missed",
                       body=f"{_label(automation)}: {reason}.", link="/automations/",
                       dedup_key=f"missed:{occ.key}")
            continue
        if not automation.is_active:
            chunk.decide(occ, Occ.SKIPPED, "The automation was paused or turned off")
            report.skipped += 1
            continue
        target = chunk.wanted.get(automation.id)
        if target is not None and target.retry:
            chunk.decide(occ, Occ.WAITING, target.problem)  # e.g. the provider is unreachable: try again next sweep
            report.waiting += 1
            continue
        if target is None or target.amount_kobo <= 0:
            chunk.decide(occ, Occ.SKIPPED,
                         target.problem if target is not None and target.problem else "Nothing to pay")
            report.skipped += 1
            continue
        by_key[occ.id] = (occ, automation, target)
        requests.append(request_for(automation, target, key=occ.id))
    if not requests:
        return []
    wallet_requests = [r for r in requests if by_key[r.key][1].payment_source == "wallet"]
    card_requests = [r for r in requests if by_key[r.key][1].payment_source == "card"]
    decisions = decide_runs(wallet_requests, card_requests, wallet_balance_kobo=resident.wallet_balance_kobo,
                            min_balance_kobo=settings.min_balance_kobo, spent_kobo=resident.spent_kobo,
                            type_caps_kobo=settings.type_caps(), monthly_cap_kobo=settings.monthly_cap_kobo)
    to_pay = []
    for decision in decisions:
        occ, automation, target = by_key[decision.key]
        if decision.outcome in (FULL, PARTIAL):
            to_pay.append(ToPay(occ, automation, target, decision))
        else:
            _not_paid(chunk, decision, user, settings, occ, automation)
    return to_pay


def _not_paid(chunk: Chunk, decision: Decision, user: User, settings: AutomationSettings,
              occ: AutomationOccurrence, automation: Automation) -> None:
    if decision.outcome == LIMIT_REACHED:
        reason = reasons.limit_reached(decision, automation, settings)
        chunk.decide(occ, Occ.LIMIT_REACHED, reason)
        chunk.report.limited += 1
        chunk.tell(user.id, E.LIMIT_REACHED, title="Limit reached",
                   body=f"{_label(automation)} was not paid: {reason}.", link="/automations/settings",
                   dedup_key=f"limit:{occ.key}")
        return
    chunk.decide(occ, Occ.WAITING, reasons.waiting(decision, settings))
    chunk.report.waiting += 1
    chunk.tell(user.id, E.LOW_BALANCE, title="Low wallet balance",
               body=f"{_label(automation)} is due but your wallet cannot cover it. Fund your wallet; we will retry "
                    f"until {occ.retry_until:%d %b %H:%M} UTC.", link="/wallet/fund",
               dedup_key=f"low-balance:{occ.key}")


def _pay(chunk: Chunk, to_pay: list[ToPay], users: dict[int, User]) -> list[Payment]:
    """Create the chunk's payments in bulk (fraud rules apply) and mark their occurrences paid."""
    if not to_pay:
        return []
    bill_ids = {item.target.bill_id for item in to_pay if item.target.bill_id}
    bills = {bill.id: bill for bill in db.session.scalars(select(Bill).where(Bill.id.in_(bill_ids)))} \
        if bill_ids else {}
    made = creation.new_payments([
        creation.NewPayment(users[item.occurrence.user_id], item.decision.amount_kobo,
                            account=None if item.target.bill_id else item.automation.utility_account,
                            bill=bills.get(item.target.bill_id), source="automation",
                            occurrence_key=item.occurrence.key, actor=f"automation:{item.automation.id}",
                            made_by_id=item.automation.made_by_id,
                            details={"card_id": item.automation.saved_card_id}
                            if item.automation.payment_source == "card" else None)
        for item in to_pay])
    for item, payment in zip(to_pay, made, strict=True):
        chunk.decide(item.occurrence, Occ.PAID, "Partial payment" if item.decision.outcome == PARTIAL else None,
                     payment_id=payment.id, amount_kobo=item.decision.amount_kobo)
        chunk.report.payments += 1
        chunk.report.created.append(payment.id)
    return made


def _label(automation: Automation) -> str:
    if automation.utility_account is not None:
        return f"Automatic payment for {automation.utility_account.nickname}"
    return f"Automatic payment for your {automation.bill_type.replace('_', ' ')} bill"
