"""The janitor: finishes what crashed workers and unknown outcomes left behind.

One pass (``flask payments janitor`` or the cron job) looks at payments due for attention:
- ``created`` long ago (the job was lost): processed now;
- ``debited`` past its check time (a transient-error retry is due, or the worker died before
  sending): submitted — ``debited`` always means "not sent yet", so sending is safe;
  both in batches (``batch.process``), so a pile of lost work is bought concurrently;
- ``submitted`` past its check time (the worker died during or after the call): never resent
  blindly; it becomes ``unknown`` and the provider is asked;
- ``unknown`` past its check time: requeried on the backoff schedule; a status call that got no
  answer is asked again within seconds by a job of its own (``jobs.requery_payment``);
- ``unknown`` with no answer from the provider at all for ``PAYMENT_ALERT_AFTER_SECONDS`` (an
  hour): the estate's admins are alerted once and the resident told we keep asking;
- ``unknown`` for longer than ``PAYMENT_UNRESOLVED_ALERT_AFTER_SECONDS`` (a day), answered or not:
  the estate's admins are alerted once, with every reference and what the provider last said, so
  they can settle it by hand;
- ``succeeded`` with its token still to come, past its token check time: the provider is asked
  for the token; still missing after ``TOKEN_ALERT_AFTER_SECONDS``: admins are alerted once.

The status checks (stale ``submitted``, ``unknown``, late tokens) go out concurrently, up to
``JANITOR_CONCURRENCY`` at once within each provider's slots, so a pile of them left by an outage
is settled in about the time of its slowest call, not of their sum.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.payment import AdminAlert, Payment, PaymentStatus, ProviderCallLog
from webapp.services import policy
from webapp.services.payments import batch, jobs, lifecycle, outcomes, references, state

log = logging.getLogger(__name__)
S = PaymentStatus
BATCH = 200


@dataclass
class JanitorReport:
    processed: int = 0
    submitted: int = 0
    orphaned: int = 0
    requeried: int = 0
    tokens_checked: int = 0
    alerted: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"janitor: {self.processed} created processed, {self.submitted} debited sent, "
                f"{self.orphaned} stale submitted checked, {self.requeried} unknown requeried, "
                f"{self.tokens_checked} late tokens asked for, {self.alerted} alerts, {len(self.errors)} errors")


class JanitorErrors(RuntimeError):
    """Some payments could not be handled in this pass; each is named. The rest were."""


def _due(status: S, now: datetime, column=Payment.next_check_at) -> list[int]:
    ids = db.session.scalars(
        select(Payment.id).where(Payment.status == status.value, column <= now).order_by(column).limit(BATCH)
    ).all()
    db.session.rollback()
    return list(ids)


def run_pass(now: datetime | None = None) -> JanitorReport:
    now = now or utcnow()
    report = JanitorReport()
    stale = policy.payment_stale_after()

    def each(ids, step, counter):
        for payment_id, exc in _concurrently(ids, step):
            if exc is None or isinstance(exc, lifecycle.TransientPaymentError):
                # (a transient error is recorded on the payment with its next check time)
                setattr(report, counter, getattr(report, counter) + 1)
            else:  # one bad payment must not stop the others; re-raised below
                report.errors.append(f"payment {payment_id}: {type(exc).__name__}: {exc}")

    def in_batches(ids, counter):
        size = max(1, current_app.config["PAYMENT_BATCH_SIZE"])
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            try:
                batch.process(chunk)
            except lifecycle.TransientPaymentError:
                db.session.rollback()  # recorded on each payment with its next check time
            except Exception as exc:  # one bad batch must not stop the others; re-raised below
                db.session.rollback()
                log.exception("janitor: payments %s", chunk)
                report.errors.append(f"payments {chunk}: {type(exc).__name__}: {exc}")
                continue
            setattr(report, counter, getattr(report, counter) + len(chunk))

    in_batches(_due(S.CREATED, now - stale, Payment.created_at), "processed")
    in_batches(_due(S.DEBITED, now), "submitted")
    # Each of these is a status call per payment: asked concurrently, not one after another.
    each(_due(S.SUBMITTED, now), lambda pid: _orphaned_submission(pid, now), "orphaned")
    each(_due(S.UNKNOWN, now), lambda pid: jobs.requery(pid, now), "requeried")
    each(_due(S.SUCCEEDED, now, Payment.token_next_check_at), lambda pid: lifecycle.fetch_token(pid, now),
         "tokens_checked")
    report.alerted = _alert_no_answer(now) + _alert_long_unknown(now) + _alert_late_tokens(now)
    if report.errors:
        raise JanitorErrors(report.summary() + "\n" + "\n".join(report.errors))
    return report


def _concurrently(ids: list[int], step: Callable[[int], object]) -> list[tuple[int, BaseException | None]]:
    """``step`` for every payment, from up to ``JANITOR_CONCURRENCY`` threads, each in an app
    context (so a database session) of its own; what each raised, in order. A step holds no lock
    across its status call, and the call waits for one of its provider's slots like any other, so
    a pile of unknown payments is asked about at the providers' pace, not one after another."""
    if not ids:
        return []
    app = current_app._get_current_object()

    def run(payment_id: int) -> tuple[int, BaseException | None]:
        with app.app_context():
            try:
                step(payment_id)
                return payment_id, None
            except lifecycle.TransientPaymentError as exc:
                db.session.rollback()
                return payment_id, exc
            except Exception as exc:
                db.session.rollback()
                log.exception("janitor: payment %s", payment_id)
                return payment_id, exc
            finally:
                db.session.remove()

    threads = min(len(ids), max(1, app.config["JANITOR_CONCURRENCY"]))
    if threads == 1:
        return [run(payment_id) for payment_id in ids]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="janitor") as pool:
        return list(pool.map(run, ids))


def _orphaned_submission(payment_id: int, now: datetime) -> None:
    if lifecycle.take_over(payment_id, now):
        jobs.requery(payment_id, now)


def alert_details(payment: Payment) -> dict:
    """What an admin needs to settle a payment by hand with its provider."""
    keys = references.keys_for(payment)
    last = db.session.scalar(select(ProviderCallLog).where(ProviderCallLog.payment_id == payment.id)
                             .order_by(ProviderCallLog.id.desc()).limit(1))
    return {
        "reference": payment.reference, "provider": payment.api_provider,
        "request_ids": list(keys.all_request_ids), "provider_refs": dict(keys.refs),
        "amount_kobo": payment.amount_kobo, "fee_kobo": payment.fee_kobo, "status": payment.status,
        "submitted_at": payment.submitted_at.isoformat() if payment.submitted_at else None,
        "purchase_attempts": payment.purchase_attempts, "status_checks": payment.status_checks,
        "last_provider_call": None if last is None else {
            "operation": last.operation, "http_status": last.http_status, "error": last.error,
            "at": last.created_at.isoformat(), "response": (last.response_body or "")[:500]},
    }


def _alert_once(now: datetime, *, setting: str, where, kind: str, stamp: str, message: str, note: str,
                tell=None) -> int:
    """One alert per payment that has waited ``setting`` seconds: ``where(cutoff)`` picks them,
    ``stamp`` is the column that records the alert was raised, ``tell`` says it to the resident.
    ``message`` and ``note`` name the wait as ``{waited}`` (and the payment as ``{p}``)."""
    after = timedelta(seconds=current_app.config[setting])
    rows = db.session.scalars(select(Payment).where(*where(now - after)).limit(BATCH)).all()
    hours = after.total_seconds() / 3600
    waited = f"{hours:g} hours" if hours >= 2 else f"{after.total_seconds() / 60:g} minutes"
    for payment in rows:
        setattr(payment, stamp, now)
        db.session.add(AdminAlert(estate_id=payment.estate_id, kind=kind, payment_id=payment.id,
                                  message=message.format(p=payment, waited=waited)[:255],
                                  dedup_key=f"{kind.replace('_', '-')}:{payment.reference}",
                                  details=alert_details(payment)))
        state.note(payment, note.format(waited=waited))
        if tell is not None:
            tell(payment)
    db.session.commit()
    return len(rows)


def _alert_no_answer(now: datetime) -> int:
    """Unknown, and the provider has not answered at all for ``PAYMENT_ALERT_AFTER_SECONDS``:
    admins alerted once, the resident told we keep asking."""
    return _alert_once(
        now, setting="PAYMENT_ALERT_AFTER_SECONDS", kind="payment_no_answer", stamp="no_answer_alerted_at",
        where=lambda cutoff: (Payment.status == S.UNKNOWN.value, Payment.no_answer_alerted_at.is_(None),
                              Payment.no_answer_since <= cutoff),
        message="Payment {p.reference}: {p.api_provider} has not answered a status check for over {waited} "
                "(timeouts or errors); still asking.",
        note="Estate admins alerted: the provider has not answered for {waited}", tell=outcomes.no_answer)


def _alert_long_unknown(now: datetime) -> int:
    return _alert_once(
        now, setting="PAYMENT_UNRESOLVED_ALERT_AFTER_SECONDS", kind="payment_unknown", stamp="alerted_at",
        where=lambda cutoff: (Payment.status == S.UNKNOWN.value, Payment.alerted_at.is_(None),
                              Payment.submitted_at <= cutoff),
        message="Payment {p.reference} has had no final answer from {p.api_provider} for over {waited}.",
        note="Estate admins alerted: no final answer after {waited}", tell=outcomes.delayed)


def _alert_late_tokens(now: datetime) -> int:
    return _alert_once(
        now, setting="TOKEN_ALERT_AFTER_SECONDS", kind="token_missing", stamp="token_alerted_at",
        where=lambda cutoff: (Payment.status == S.SUCCEEDED.value, Payment.token.is_(None),
                              Payment.token_next_check_at.is_not(None), Payment.token_alerted_at.is_(None),
                              Payment.completed_at <= cutoff),
        message="Payment {p.reference} succeeded but {p.api_provider} has not given its token after {waited}.",
        note="Estate admins alerted: no token after {waited}")
