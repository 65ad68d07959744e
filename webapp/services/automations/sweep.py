"""The sweep: once a minute, turn due automation occurrences into payments, exactly once.

For each resident with something due, in one savepoint (a few residents share a transaction,
so the sweep waits for the database's write lock less often): lock their due automations, record
each occurrence (unique per automation and scheduled time), advance ``next_run_at``, apply the
allocation rules (priority, limits, caps, minimum balance, partial payments) to everything due
or still waiting for money, create the payments, commit; then enqueue them. A second sweep for
the same minute finds ``next_run_at`` already moved and the occurrence keys taken.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.infra import sqlite_files
from webapp.models import Bill, Payment, PaymentStatus, User
from webapp.models.automation import Automation, AutomationOccurrence, OccurrenceStatus
from webapp.models.base import utcnow
from webapp.services import ledger, notify, payments
from webapp.services.automations.allocation import (
    FULL,
    INSUFFICIENT_FUNDS,
    LIMIT_REACHED,
    PARTIAL,
    UNLIMITED_KOBO,
    Decision,
    Limits,
    allocate,
    request_for,
)
from webapp.services.automations.common import automation_spend_this_month, schedule_of, settings_for
from webapp.services.automations.targets import desired_amounts

log = logging.getLogger(__name__)
Occ = OccurrenceStatus
E = notify.NotificationEvent


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


def _active(now: datetime):
    return (Automation.enabled.is_(True), Automation.paused_at.is_(None), Automation.deleted_at.is_(None),
            Automation.next_run_at <= now)


def due_user_ids(now: datetime) -> list[int]:
    due = select(Automation.user_id).where(*_active(now))
    waiting = select(AutomationOccurrence.user_id).where(AutomationOccurrence.status == Occ.WAITING.value)
    ids = sorted(set(db.session.scalars(union(due, waiting))))
    db.session.rollback()
    return ids


# Residents swept in one transaction (a savepoint each). The first transaction is small so the
# workers get payments at once; later ones grow, so a big sweep waits for the database's write lock
# (which the busy workers also want) a few times rather than once per resident.
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
    for batch in batches(due_user_ids(now)):
        created = sweep_residents(batch, now, report)
        report.residents += len(batch)
        payments.enqueue_many(created)
        notify.enqueue_pending_emails()
    return report


def _lock_resident(user_id: int, now: datetime) -> list[Automation]:
    if db.session.get_bind().dialect.name == "sqlite":  # take the write lock before reading
        db.session.execute(update(Automation).where(Automation.user_id == user_id).values(id=Automation.id))
    return list(db.session.scalars(
        select(Automation).where(Automation.user_id == user_id, *_active(now))
        .options(selectinload(Automation.utility_account))  # with its catalogue entry (joined)
        .order_by(Automation.id).with_for_update()
    ))


def sweep_residents(user_ids: list[int], now: datetime, report: SweepReport) -> list[tuple[int, str]]:
    """Sweep these residents in one transaction, each in a savepoint; the ``(id, reference)`` of
    the ``created`` payments to enqueue after the commit."""
    prepared = []
    with sqlite_files.reading():  # SQLite: no write lock held across these provider calls
        for user_id in user_ids:
            wanted = desired_amounts(user_id, now)  # may call providers: before any lock is taken
            settings = settings_for(user_id)
            prepared.append((user_id, wanted, settings))
            db.session.rollback()  # SQLite: a read-then-write transaction fails at once if a worker committed between
    created: list[tuple[int, str]] = []
    for user_id, wanted, settings in prepared:
        try:
            with db.session.begin_nested():
                # Kept referenced until the resident is done: the session holds clean objects weakly,
                # and the allocation below would otherwise load each automation and account again.
                automations = _lock_resident(user_id, now)
                for automation in automations:
                    _record_due_occurrences(automation, now, timedelta(hours=settings.grace_hours), report)
                db.session.flush()
                user = db.session.get(User, user_id)
                made = _allocate_waiting(user, settings, wanted, now, report)
                db.session.flush()
                del automations
        except IntegrityError:
            # Another sweep recorded these occurrences first; it owns them.
            log.info("sweep: resident %s was swept concurrently", user_id)
            continue
        created += [(p.id, p.reference) for p in made if p.status == PaymentStatus.CREATED]
    db.session.commit()
    return created


def _record_due_occurrences(automation: Automation, now: datetime, grace: timedelta, report: SweepReport) -> None:
    schedule = schedule_of(automation)
    due = schedule.between(automation.next_run_at, now)
    automation.next_run_at = schedule.next_after(now)
    automation.last_run_at = now
    automation.occurrences_done += len(due)
    if not due:
        return
    *missed, latest = due
    late = now - latest > timedelta(minutes=current_app.config["AUTOMATION_LATE_TOLERANCE_MINUTES"])
    if automation.catch_up == "none" and late:
        missed, latest = due, None
    for when in missed:
        _occurrence(automation, when, Occ.SKIPPED, "Missed while payments were paused; only the latest is paid")
        report.skipped += 1
    if latest is None:
        return
    if automation.skip_next:
        automation.skip_next = False
        _occurrence(automation, latest, Occ.SKIPPED, "Skipped at your request")
        report.skipped += 1
        return
    _occurrence(automation, latest, Occ.WAITING, None, retry_until=latest + grace)


def _occurrence(automation: Automation, when: datetime, status: OccurrenceStatus, reason: str | None,
                retry_until: datetime | None = None) -> AutomationOccurrence:
    occurrence = AutomationOccurrence(automation_id=automation.id, user_id=automation.user_id, scheduled_for=when,
                                      status=status.value, reason=reason, retry_until=retry_until)
    db.session.add(occurrence)
    return occurrence


def _allocate_waiting(user: User, settings, wanted, now: datetime, report: SweepReport) -> list[Payment]:
    waiting = list(db.session.scalars(
        select(AutomationOccurrence).where(AutomationOccurrence.user_id == user.id,
                                           AutomationOccurrence.status == Occ.WAITING.value)
        .order_by(AutomationOccurrence.scheduled_for)
    ))
    requests, by_key = [], {}
    for occ in waiting:
        automation = occ.automation
        if occ.retry_until is not None and occ.retry_until < now:
            occ.status, occ.reason = Occ.MISSED.value, "Not enough money in your wallet before the grace period ended"
            report.missed += 1
            notify.notify(user.id, E.PAYMENT_FAILED, title="Automatic payment missed",
                          body=f"{_label(automation)}: {occ.reason}.", link="/automations/",
                          dedup_key=f"missed:{occ.key}")
            continue
        if not automation.is_active:
            occ.status, occ.reason = Occ.SKIPPED.value, "The automation was paused or turned off"
            report.skipped += 1
            continue
        target = wanted.get(automation.id)
        if target is not None and target.retry:
            occ.reason = target.problem  # e.g. the provider is unreachable: try again next sweep
            report.waiting += 1
            continue
        if target is None or target.amount_kobo <= 0:
            occ.status = Occ.SKIPPED.value
            occ.reason = target.problem if target is not None and target.problem else "Nothing to pay"
            report.skipped += 1
            continue
        by_key[occ.id] = (occ, automation, target)
        requests.append(request_for(automation, target, key=occ.id))
    if not requests:
        return []
    spent = automation_spend_this_month(user.id, now, user.effective_timezone)
    caps = settings.type_caps()
    type_caps = {kind: cap - spent.get(kind, 0) for kind, cap in caps.items()}
    overall = None if settings.monthly_cap_kobo is None else settings.monthly_cap_kobo - sum(spent.values())
    wallet_requests = [r for r in requests if by_key[r.key][1].payment_source == "wallet"]
    card_requests = [r for r in requests if by_key[r.key][1].payment_source == "card"]
    decisions = allocate(wallet_requests, Limits(
        wallet_balance_kobo=ledger.wallet_balance(user.id), min_balance_kobo=settings.min_balance_kobo,
        overall_cap_remaining_kobo=overall, type_caps_remaining_kobo=type_caps,
    ))
    if card_requests:
        # A saved card pays for itself: the wallet and its minimum balance do not limit it; caps do.
        for d in decisions:
            if d.pays:
                kind = by_key[d.key][2].utility_type
                overall = None if overall is None else overall - d.amount_kobo
                if kind in type_caps:
                    type_caps[kind] -= d.amount_kobo
        decisions += allocate(card_requests, Limits(wallet_balance_kobo=UNLIMITED_KOBO,
                                                    overall_cap_remaining_kobo=overall,
                                                    type_caps_remaining_kobo=type_caps))
    created = []
    for decision in decisions:
        occ, automation, target = by_key[decision.key]
        payment = _apply(decision, user, occ, automation, target, report)
        if payment is not None:
            created.append(payment)
    return created


def _apply(decision: Decision, user: User, occ: AutomationOccurrence, automation: Automation, target,
           report: SweepReport) -> Payment | None:
    if decision.outcome in (FULL, PARTIAL):
        if target.bill_id:
            bill = db.session.get(Bill, target.bill_id)
            payment = payments.new_estate_bill_payment(user, bill, decision.amount_kobo, source="automation",
                                                       occurrence_key=occ.key, actor=f"automation:{automation.id}")
        else:
            payment = payments.new_utility_payment(user, automation.utility_account, decision.amount_kobo,
                                                   source="automation", occurrence_key=occ.key,
                                                   actor=f"automation:{automation.id}")
        if automation.payment_source == "card":
            payment.details = {**payment.details, "card_id": automation.saved_card_id}
        occ.status, occ.payment_id, occ.amount_kobo = Occ.PAID.value, payment.id, decision.amount_kobo
        occ.reason = "Partial payment" if decision.outcome == PARTIAL else None
        report.payments += 1
        report.created.append(payment.id)
        return payment
    if decision.outcome == LIMIT_REACHED:
        occ.status, occ.reason = Occ.LIMIT_REACHED.value, "A spending limit or monthly cap did not allow this payment"
        report.limited += 1
        notify.notify(user.id, E.LIMIT_REACHED, title="Limit reached",
                      body=f"{_label(automation)} was not paid: {occ.reason}.", link="/automations/settings",
                      dedup_key=f"limit:{occ.key}")
        return None
    occ.reason = ("Waiting for money in your wallet" if decision.outcome == INSUFFICIENT_FUNDS
                  else "Waiting: a higher-priority payment is first in line for your wallet")
    report.waiting += 1
    notify.notify(user.id, E.LOW_BALANCE, title="Low wallet balance",
                  body=f"{_label(automation)} is due but your wallet cannot cover it. Fund your wallet; we will retry "
                       f"until {occ.retry_until:%d %b %H:%M} UTC.", link="/wallet/fund",
                  dedup_key=f"low-balance:{occ.key}")
    return None


def _label(automation: Automation) -> str:
    if automation.utility_account is not None:
        return f"Automatic payment for {automation.utility_account.nickname}"
    return f"Automatic payment for your {automation.bill_type.replace('_', ' ')} bill"
