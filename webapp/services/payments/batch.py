"""Buying a batch of payments at once (DESIGN §9): one transaction debits and submits them all,
the purchase calls go out concurrently, one more transaction records every outcome.

The rules are the single payment's (``lifecycle``), applied to many rows per transaction:
- Transaction 1 locks the batch's payments that are still ``created`` or ``debited``, skipping any
  another worker holds (``FOR UPDATE SKIP LOCKED``; SQLite has one writer at a time), then their
  residents' wallets in id order, then debits every ``created`` one in a few multi-row statements
  (``ledger.debit_payments``; one the wallet cannot cover is cancelled, nothing taken) and marks
  every one ``submitted``. Commit: the evidence exists before any call.
- The call stage sends each purchase from a thread of its own (no transaction open, no lock held,
  no database session touched), through the process's keep-alive connection pool and within the
  provider's cap shared by all workers: the batch takes slots for its waiting calls a script at a
  time and hands a finished call's slot to the next (``provider_slots.SharedSlots``).
- Transaction 2 locks each payment again and records its answer exactly as ``lifecycle.apply_result``
  does (success with token, failure with refund, unknown to be requeried), then commits once.
A crash at any point leaves each payment in a state the janitor already knows how to finish:
``created`` with nothing taken, or ``submitted`` with exactly one debit (it asks the provider).

Payments that are not wallet-funded utility purchases (estate bills, card-funded payments) are
processed one by one through ``lifecycle.process``.
"""
from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload

from webapp.extensions import db
from webapp.infra import bulk_writes, provider_slots
from webapp.models.payment import Payment, PaymentKind, PaymentStatus
from webapp.providers.base import ProviderError, PurchaseResult
from webapp.services import ledger
from webapp.services.households import limits
from webapp.services.payments import calls, leases, lifecycle, references

log = logging.getLogger(__name__)
S = PaymentStatus


@dataclass
class BatchReport:
    submitted: int = 0
    cancelled: int = 0
    retrying: int = 0
    one_by_one: int = 0
    skipped: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        final = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))
        return (f"{self.submitted} submitted, {self.cancelled} cancelled, {self.retrying} to retry, "
                f"{self.one_by_one} one by one, {self.skipped} skipped" + (f"; now {final}" if final else ""))


def process(payment_ids: list[int]) -> BatchReport:
    """Move every payment of the batch as far as it can go now. Safe to run twice, and for
    overlapping batches at once. Raises ``lifecycle.TransientPaymentError`` after everything is
    committed when some purchase is to be retried later (the job's Retry runs the batch again; the
    payments already final are skipped then)."""
    report = BatchReport()
    ids = sorted(set(payment_ids))
    found = db.session.execute(select(Payment.id, Payment.kind, Payment.details).where(Payment.id.in_(ids))
                               .order_by(Payment.id)).all()
    wallet_purchases = [payment_id for payment_id, kind, details in found
                        if kind != PaymentKind.ESTATE_BILL and not (details or {}).get("card_id")]
    contexts = calls.purchase_contexts(wallet_purchases) if wallet_purchases else {}
    singles = [payment_id for payment_id, _, _ in found if payment_id not in contexts]
    db.session.rollback()
    for payment_id in singles:  # estate bills and card payments have steps of their own
        lifecycle.process(payment_id)
        report.one_by_one += 1

    submitted = _debit_and_submit(contexts, report)
    lifecycle.pause_at("after_submit")
    db.session.rollback()  # nothing pending; no transaction open across the calls
    with leases.held(submitted):  # a live worker's payments are never taken over
        answers = _send_all([contexts[payment_id] for payment_id in submitted])
    lifecycle.pause_at("before_result")
    retry, crashed = _record_all(submitted, answers, contexts, report)
    report.statuses = dict(db.session.execute(select(Payment.status, func.count()).where(Payment.id.in_(ids))
                                              .group_by(Payment.status)).all())
    db.session.rollback()
    if crashed:
        raise crashed[0]
    if retry:
        raise lifecycle.TransientPaymentError(f"{retry} purchase(s) of the batch to be retried")
    return report


def _lock(ids: list[int], statuses=None, *, skip_locked: bool = False) -> list[Payment]:
    """The batch's payments (in ``statuses``) with their rows locked until commit, in id order.

    PostgreSQL: ``SELECT ... FOR UPDATE`` (``SKIP LOCKED``: rows another worker holds are left to
    it). SQLite has no row locks; a no-op write takes the database's write lock first."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Payment).where(Payment.id.in_(ids)).values(id=Payment.id),
                           execution_options={"synchronize_session": False})
    query = select(Payment).where(Payment.id.in_(ids))
    if statuses:
        query = query.where(Payment.status.in_([status.value for status in statuses]))
    return list(db.session.scalars(
        query.order_by(Payment.id).with_for_update(skip_locked=skip_locked)
        .options(lazyload(Payment.events)).execution_options(populate_existing=True)))


def _debit_and_submit(contexts: dict[int, calls.PurchaseContext], report: BatchReport) -> list[int]:
    """Transaction 1: the batch's payments debited (or cancelled) and ``submitted``, committed."""
    if not contexts:
        return []
    ids = sorted(contexts)
    payments = _lock(ids, (S.CREATED, S.DEBITED), skip_locked=True)
    report.skipped = len(ids) - len(payments)
    ledger.lock_wallets(payment.user_id for payment in payments)
    # Every debit whose accounts exist in a few multi-row statements; a resident's very first
    # payment to a provider (accounts still to open) goes one by one.
    bulk = [payment for payment in payments if payment.status == S.CREATED and contexts[payment.id].account_ids]
    # Household members' payments count against what each has left this month, read now that
    # the owners' wallets are locked (the ledger runs the caps down in order, like the balances).
    allowed = limits.allowances(key for key in map(limits.cap_key, bulk) if key is not None)
    refused = ledger.debit_payments([
        ledger.Debit(payment.user_id, payment.amount_kobo, payment.fee_kobo, payment.api_provider, payment.reference,
                     contexts[payment.id].account_ids, cap_key=limits.cap_key(payment)) for payment in bulk],
        caps=limits.caps(allowed))
    submitted = []
    with bulk_writes.deferred():  # the timeline events and audit rows, a statement per table
        # The bulk debits are recorded first: a payment debited one by one after them reads a
        # household payer's allowance with theirs already counted.
        in_bulk = {payment.id for payment in bulk}
        for payment in sorted(payments, key=lambda p: p.id not in in_bulk):
            submitted += _debit_or_cancel(payment, contexts[payment.id], refused, allowed, report)
    lifecycle.pause_at("after_debit")  # inside the transaction: a crash here commits nothing
    db.session.commit()
    report.submitted = len(submitted)
    return submitted


def _debit_or_cancel(payment: Payment, context: calls.PurchaseContext, refused: dict, allowed: dict,
                     report: BatchReport) -> list[int]:
    """One locked payment of transaction 1: ``[its id]`` once it is ``submitted``, else ``[]``."""
    if payment.status == S.CREATED:
        if payment.reference in refused:
            refusal = refused[payment.reference]
            if isinstance(refusal, ledger.SpendingCapReached):
                was = allowed[refusal.cap_key]
                left = limits.Allowance(was.role, was.limit_kobo, refusal.remaining_kobo)
                lifecycle.fail_over_limit(payment, left.refusal(payment.total_kobo))
                report.cancelled += 1
                return []
            if refusal is not None:
                lifecycle.cancel_for_funds(payment, refusal)
                report.cancelled += 1
                return []
            lifecycle.record_debit(payment)
        elif not lifecycle.debit_locked(payment, context.account_ids):
            report.cancelled += 1
            return []
    lifecycle.mark_submitted(payment, context.request["reference"])
    return [payment.id]


Answer = tuple[PurchaseResult | None, ProviderError | BaseException | None, list]


def _send_all(contexts: list[calls.PurchaseContext]) -> list[Answer]:
    """The call stage: every purchase at once, each from its own thread, answers in order."""
    if not contexts:
        return []
    app = current_app._get_current_object()

    def send(context: calls.PurchaseContext) -> Answer:
        with app.app_context():
            try:
                return lifecycle.send_purchase(context, shared.get(context.api_provider))
            except Exception as exc:  # a bug, not a provider answer: the payment stays submitted
                log.exception("purchase %s crashed", context.request.get("reference"))
                return None, exc, []

    threads = min(len(contexts), current_app.config["PAYMENT_BATCH_CONCURRENCY"])
    # The batch takes its providers' slots together and hands them from call to call.
    with provider_slots.shared_by_batch(Counter(context.api_provider for context in contexts), threads) as shared:
        if threads == 1:
            return [send(context) for context in contexts]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="purchase") as pool:
            return list(pool.map(send, contexts))


def _record_all(ids: list[int], answers: list[Answer], contexts: dict[int, calls.PurchaseContext],
                report: BatchReport) -> tuple[int, list[BaseException]]:
    """Transaction 2: every answer recorded, committed once. Returns how many purchases are to be
    retried and the crashes (their payments stay ``submitted`` for the janitor)."""
    retry, crashed = 0, []
    answered = {}
    for payment_id, (result, err, log_calls) in zip(ids, answers, strict=True):
        if err is not None and not isinstance(err, ProviderError):
            crashed.append(err)
        else:
            answered[payment_id] = (result, err, log_calls)
    # Nothing below reads back what it writes (the ledger flushes for itself): no autoflush, and
    # the events, call logs, references and notifications go in a few multi-row statements.
    with db.session.no_autoflush, bulk_writes.deferred():
        locked = _lock(sorted(answered)) if answered else []
        known = references.owners((contexts[payment.id].api_provider, answered[payment.id][0].refs)
                                  for payment in locked if answered[payment.id][0] is not None)
        for payment in locked:
            result, err, log_calls = answered[payment.id]
            context = contexts[payment.id]
            if err is not None:
                retry += lifecycle.record_error(payment, err, log_calls, context)
            else:
                lifecycle.record_result(payment, result, log_calls, source="purchase", context=context,
                                        known=known)
    db.session.commit()
    report.retrying = retry
    return retry, crashed
