"""The janitor: finishes what crashed workers and unknown outcomes left behind.

One pass (``flask payments janitor`` or the cron job) looks at payments due for attention:
- ``created`` long ago (the job was lost): processed now;
- ``debited`` past its check time (a transient-error retry is due, or the worker died before
  sending): submitted — ``debited`` always means "not sent yet", so sending is safe;
- ``submitted`` past its check time (the worker died during or after the call): never resent
  blindly; it becomes ``unknown`` and the provider is asked;
- ``unknown`` past its check time: requeried on the backoff schedule;
- ``unknown`` for more than a day: the estate's admins are alerted once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from ...extensions import db
from ...models.base import utcnow
from ...models.payment import AdminAlert, Payment, PaymentStatus
from . import lifecycle, outcomes, state

log = logging.getLogger(__name__)
S = PaymentStatus
BATCH = 200
ALERT_AFTER = timedelta(hours=24)


@dataclass
class JanitorReport:
    processed: int = 0
    submitted: int = 0
    orphaned: int = 0
    requeried: int = 0
    alerted: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"janitor: {self.processed} created processed, {self.submitted} debited sent, "
                f"{self.orphaned} stale submitted checked, {self.requeried} unknown requeried, "
                f"{self.alerted} alerts, {len(self.errors)} errors")


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
    stale = lifecycle.stale_after()

    def each(ids, step, counter):
        for payment_id in ids:
            try:
                step(payment_id)
                setattr(report, counter, getattr(report, counter) + 1)
            except lifecycle.TransientPaymentError:
                # Recorded on the payment with its next check time; the next pass retries it.
                db.session.rollback()
                setattr(report, counter, getattr(report, counter) + 1)
            except Exception as exc:  # one bad payment must not stop the others; re-raised below
                db.session.rollback()
                log.exception("janitor: payment %s", payment_id)
                report.errors.append(f"payment {payment_id}: {type(exc).__name__}: {exc}")

    each(_due(S.CREATED, now - stale, Payment.created_at), lifecycle.process, "processed")
    each(_due(S.DEBITED, now), lifecycle.submit, "submitted")
    each(_due(S.SUBMITTED, now), lambda pid: _orphaned_submission(pid, now), "orphaned")
    each(_due(S.UNKNOWN, now), lambda pid: lifecycle.requery(pid, now), "requeried")
    report.alerted = _alert_long_unknown(now)
    if report.errors:
        raise JanitorErrors(report.summary() + "\n" + "\n".join(report.errors))
    return report


def _orphaned_submission(payment_id: int, now: datetime) -> None:
    payment = state.lock(payment_id)
    if payment.status != S.SUBMITTED or payment.next_check_at is None or payment.next_check_at > now:
        db.session.rollback()
        return
    payment.next_check_at = now
    state.transition(payment, S.UNKNOWN, "No answer recorded from the provider call (worker stopped); "
                                         "checking with the provider")
    db.session.commit()
    lifecycle.requery(payment_id, now)


def _alert_long_unknown(now: datetime) -> int:
    rows = db.session.scalars(
        select(Payment).where(Payment.status == S.UNKNOWN.value, Payment.alerted_at.is_(None),
                              Payment.submitted_at <= now - ALERT_AFTER).limit(BATCH)
    ).all()
    for payment in rows:
        payment.alerted_at = now
        db.session.add(AdminAlert(
            estate_id=payment.estate_id, kind="payment_unknown", payment_id=payment.id,
            message=f"Payment {payment.reference} has had no final answer from {payment.api_provider} "
                    f"for over 24 hours.",
            dedup_key=f"payment-unknown:{payment.reference}",
        ))
        state.note(payment, "Estate admins alerted: no final answer after 24 hours")
        outcomes.delayed(payment)
    db.session.commit()
    return len(rows)
