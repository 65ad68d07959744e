"""Turning a resident's request into a ``Payment`` row, then (after commit) an RQ job."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from webapp.extensions import db
from webapp.infra import bulk_writes
from webapp.models import Bill, Payment, PaymentKind, PaymentStatus, User, UtilityAccount
from webapp.money import naira
from webapp.providers.vtpass_codes import reference_for
from webapp.services import access, audit, catalogue, ledger, notify
from webapp.services.households import limits
from webapp.services.payments import fraud, jobs, state

log = logging.getLogger(__name__)


class PaymentRequestError(ValueError):
    """A payment request we refuse before anything is created, with a message for the page."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class SubmitKeyTaken(PaymentRequestError):
    """The form's one-time key already belongs to another resident's payment (a copied or forged
    form): nothing is created, and the page answers 409."""

    def __init__(self):
        super().__init__("This payment form was already used. Start a new payment from the beginning.")


def payment_for_submit_key(user: User, submit_key: str | None) -> Payment | None:
    """The payment this resident already made with ``submit_key`` (a resubmitted form), else None;
    ``SubmitKeyTaken`` when the key is another resident's."""
    if not submit_key:
        return None
    existing = db.session.scalar(select(Payment).where(Payment.submit_key == submit_key))
    if existing is not None and existing.user_id != user.id:
        raise SubmitKeyTaken()
    return existing


@dataclass(frozen=True)
class Quote:
    account: UtilityAccount
    amount_kobo: int
    fee_kobo: int
    wallet_balance_kobo: int

    @property
    def total_kobo(self) -> int:
        return self.amount_kobo + self.fee_kobo


def account_for(user: User, account_id) -> UtilityAccount:
    """The user's own, live utility account; anything else is 'not found' for the page."""
    account = access.own_utility_account(user.id, account_id)
    if account is None:
        raise PaymentRequestError("Choose one of your accounts.", "account")
    return account


def quote(user: User, account_id, amount_kobo: int, made_by: User | None = None) -> Quote:
    """Check a payment request against the catalogue's bounds and the wallet (and, for a household
    payer ``made_by``, their monthly limit); nothing is written."""
    account = account_for(user, account_id)
    entry = account.provider
    if not entry.is_active or entry.estate_id != user.estate_id:
        raise PaymentRequestError(f"{entry.name} is no longer offered in your estate.", "account")
    if not isinstance(amount_kobo, int) or isinstance(amount_kobo, bool):
        raise PaymentRequestError("Enter an amount in naira, like 5000.", "amount")
    problem = catalogue.amount_problem(entry, amount_kobo)
    if problem:
        raise PaymentRequestError(problem, "amount")
    balance = ledger.wallet_balance(user.id)
    result = Quote(account=account, amount_kobo=amount_kobo, fee_kobo=entry.fee_kobo, wallet_balance_kobo=balance)
    if made_by is not None and made_by.id != user.id:
        # Said here on the form; the debit checks it again under the wallet's lock, exactly.
        refusal = limits.allowance(user.id, made_by.id).refusal(result.total_kobo)
        if refusal:
            raise PaymentRequestError(refusal.replace(" Nothing was taken.", ""), "amount")
    if result.total_kobo > balance:
        raise PaymentRequestError(
            f"Your wallet has {naira(balance)}; this payment needs {naira(result.total_kobo)} "
            f"including the {naira(entry.fee_kobo)} fee. Fund your wallet first.", "amount")
    return result


def create_utility_payment(user: User, account_id, amount_kobo: int, submit_key: str, *,
                           source: str = "one_time", occurrence_key: str | None = None,
                           actor: str | None = None, made_by: User | None = None) -> Payment:
    """Create the payment and commit it, then enqueue its job (id = reference).

    ``user`` is whose wallet pays; ``made_by`` who asked (``user`` unless a member of their
    household paid from it).

    ``submit_key`` comes from the confirm form: a resubmitted or double-clicked form returns the
    payment it already created instead of creating a second one; another resident's key is
    ``SubmitKeyTaken``.
    """
    existing = payment_for_submit_key(user, submit_key)
    if existing is not None:
        enqueue(existing)  # its first enqueue may have failed (Redis away); a second job is harmless
        return existing
    made_by = made_by or user
    q = quote(user, account_id, amount_kobo, made_by=made_by)
    try:
        payment = new_utility_payment(user, q.account, q.amount_kobo, submit_key=submit_key or None,
                                      source=source, occurrence_key=occurrence_key,
                                      actor=actor or f"user:{made_by.id}", made_by_id=made_by.id)
        audit.record("payment.create", "payment", payment.id, estate_id=payment.estate_id,
                     after={"reference": payment.reference, "amount_kobo": payment.amount_kobo,
                            "fee_kobo": payment.fee_kobo, "status": payment.status})
        db.session.commit()
    except IntegrityError:
        # Another request with the same key got in first (a double click, or a copied form): the
        # insert's flush or the commit fails on the key's unique constraint.
        db.session.rollback()
        existing = payment_for_submit_key(user, submit_key)
        if existing is None:
            raise
        enqueue(existing)
        return existing
    enqueue(payment)
    return payment


@dataclass(frozen=True)
class NewPayment:
    """A payment to create: a utility purchase for ``account``, or a payment of the estate ``bill``."""

    user: User
    amount_kobo: int
    account: UtilityAccount | None = None
    bill: Bill | None = None
    source: str = "one_time"
    submit_key: str | None = None
    occurrence_key: str | None = None
    actor: str | None = None
    details: Mapping | None = None  # e.g. the saved card an automation pays with
    made_by_id: int | None = None  # who asked (None: autopay)


def new_payments(orders: Sequence[NewPayment]) -> list[Payment]:
    """Add ``created`` payments and their first timeline events to the session, in the order given,
    with one multi-row INSERT each (the sweep creates a chunk of residents' payments at once).

    Utility purchases are judged by the fraud rules, each as if the ones before it were created
    already; one that trips a rule is held for review and its resident told. Flushes, never
    commits: the caller commits, then calls ``enqueue_many`` for the ``created`` ones. Bounds and
    balance are the caller's to check (``quote`` for one-time payments, the allocation rules for
    automations).
    """
    if not orders:
        return []
    # Judged before they are in the session: a query would flush them and count them twice.
    verdicts = fraud.evaluate_many([(order.user.id, order.account, order.amount_kobo) for order in orders])
    rows = [_payment_row(order) for order in orders]
    # NULLs are written as such so that every row names the same columns (one multi-row INSERT), and
    # RETURNING comes in no particular order: SQLite batches the rows only then (it has no sentinel
    # column to sort them by); the unique reference says which payment is which. A new payment has
    # no events to load.
    returned = {p.reference: p for p in db.session.scalars(
        insert(Payment).returning(Payment).options(lazyload(Payment.events)).execution_options(render_nulls=True),
        rows)}
    created = [returned[row["reference"]] for row in rows]
    with bulk_writes.deferred():  # their events (and the held ones' notifications) in one INSERT per table
        for payment, order in zip(created, orders, strict=True):
            state.record_created(payment, _requested(payment, order), order.actor or f"user:{order.user.id}")
        for payment, verdict in zip(created, verdicts, strict=True):
            if verdict.hold:
                hold(payment, verdict.summary())
    return created


def _payment_row(order: NewPayment) -> dict:
    # Both kinds name the same columns, so that they go in one multi-row INSERT.
    row = {"reference": reference_for(), "user_id": order.user.id, "amount_kobo": order.amount_kobo,
           "status": PaymentStatus.CREATED.value, "submit_key": order.submit_key,
           "occurrence_key": order.occurrence_key, "source": order.source, "details": dict(order.details or {}),
           "made_by_id": order.made_by_id}
    if order.account is not None:
        entry = order.account.provider
        return {**row, "estate_id": order.user.estate_id, "kind": PaymentKind.UTILITY.value,
                "utility_account_id": order.account.id, "provider_id": entry.id, "api_provider": entry.api_provider,
                "bill_id": None, "utility_type": entry.provider_type, "fee_kobo": entry.fee_kobo}
    return {**row, "estate_id": order.bill.estate_id, "kind": PaymentKind.ESTATE_BILL.value,
            "utility_account_id": None, "provider_id": None, "api_provider": None, "bill_id": order.bill.id,
            "utility_type": "estate_bill", "fee_kobo": 0}


def _requested(payment: Payment, order: NewPayment) -> str:
    if order.account is not None:
        return f"{naira(payment.total_kobo)} to {order.account.provider.name} requested"
    return f"{naira(payment.amount_kobo)} towards {order.bill.title} requested"


def new_utility_payment(user: User, account: UtilityAccount, amount_kobo: int, *, submit_key: str | None = None,
                        source: str = "one_time", occurrence_key: str | None = None,
                        actor: str | None = None, made_by_id: int | None = None) -> Payment:
    """Add a ``created`` utility payment (and its first timeline event) to the session; held for
    review if it trips a fraud rule. ``new_payments`` of one: flushes, never commits."""
    return new_payments([NewPayment(user, amount_kobo, account=account, source=source, submit_key=submit_key,
                                    occurrence_key=occurrence_key, actor=actor, made_by_id=made_by_id)])[0]


def new_estate_bill_payment(user: User, bill: Bill, amount_kobo: int, *, submit_key: str | None = None,
                            source: str = "one_time", occurrence_key: str | None = None,
                            actor: str | None = None, made_by_id: int | None = None) -> Payment:
    """Add a ``created`` payment of an estate bill (wallet → estate wallet); the caller commits."""
    return new_payments([NewPayment(user, amount_kobo, bill=bill, source=source, submit_key=submit_key,
                                    occurrence_key=occurrence_key, actor=actor, made_by_id=made_by_id)])[0]


def hold(payment: Payment, why: str) -> None:
    """Hold for review: nothing is debited until an admin approves it."""
    state.transition(payment, PaymentStatus.HELD, f"Held for review: {why}")
    notify.notify(payment.user_id, notify.NotificationEvent.PAYMENT_HELD, title="Payment held for review",
                  body=f"Your payment of {naira(payment.amount_kobo)} is waiting for a quick check by your estate's "
                       "admins. Nothing has been taken from your wallet.",
                  link=f"/pay/{payment.id}", dedup_key=f"payment:{payment.reference}:held")


def enqueue(payment: Payment) -> None:
    """Enqueue after commit. A payment held for review is not enqueued until an admin approves it."""
    if payment.status == PaymentStatus.CREATED:
        enqueue_many([(payment.id, payment.reference)])


@dataclass(frozen=True)
class PlannedJob:
    """One job buying ``payment_ids``: a lone payment's job id is its reference, a batch's
    ``batch-<first reference>``."""

    job_id: str
    payment_ids: list[int]

    @property
    def batch(self) -> bool:
        return self.job_id.startswith("batch-")


def plan_jobs(payments: list[tuple[int, str]]) -> list[PlannedJob]:
    """The jobs that buy these ``(id, reference)`` payments: ``PAYMENT_BATCH_SIZE`` to a job."""
    size = max(1, current_app.config["PAYMENT_BATCH_SIZE"])
    chunks = [payments[start:start + size] for start in range(0, len(payments), size)]
    return [PlannedJob(chunk[0][1] if len(chunk) == 1 else f"batch-{chunk[0][1]}",
                       [payment_id for payment_id, _ in chunk]) for chunk in chunks]


def record_jobs(plan: list[PlannedJob]) -> None:
    """Note on each payment of a batch job which job buys it, in the caller's transaction (a lone
    payment's job id is its reference: nothing to note), so ``relay_lost_jobs`` can tell a payment
    whose job is waiting from one whose job was lost."""
    rows = [{"id": payment_id, "job_id": job.job_id} for job in plan if job.batch for payment_id in job.payment_ids]
    if rows:
        db.session.execute(update(Payment), rows)  # ORM bulk UPDATE by primary key: one executemany


def enqueue_many(payments: list[tuple[int, str]], plan: list[PlannedJob] | None = None) -> bool:
    """Enqueue the jobs of committed ``created`` payments, given as ``(id, reference)`` (or their
    ``plan``, as recorded before the commit), in one Redis round trip; RQ's Retry reruns a job after
    transient provider errors. Redis being away is logged, not raised: the payments are committed,
    the resident sees them queued, and ``relay_lost_jobs`` enqueues them again within seconds of
    Redis coming back. True if enqueued."""
    plan = plan_jobs(payments) if plan is None else plan
    singles = [((job.payment_ids[0],), job.job_id) for job in plan if not job.batch]
    batches = [((job.payment_ids,), job.job_id) for job in plan if job.batch]
    try:
        if singles:
            jobs.process_payment.enqueue_many(singles)
        if batches:
            jobs.process_payments.enqueue_many(batches)
    except RedisError as exc:
        log.warning("could not enqueue %s payment job(s) (%s); the relay enqueues them once Redis is back",
                    len(plan), type(exc).__name__)
        return False
    return True


