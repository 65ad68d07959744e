"""The payment jobs: buying one payment (job id = the payment's reference), buying a batch (job id
``batch-<first reference>``), the status check a bill webhook asks for (``check-<reference>``),
the status check again soon after one that got no answer (``requery-<id>-<when>``), and the
take-over of a payment whose worker is gone (``take-over-<id>-<lease end>``)."""
from __future__ import annotations

import logging
from datetime import datetime

from redis.exceptions import RedisError

from webapp.jobs import PAYMENTS, job
from webapp.services import notify, policy
from webapp.services.payments import batch, lifecycle

log = logging.getLogger(__name__)


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", retry_intervals=policy.purchase_job_retries,
     result_ttl=3600, failure_ttl=7 * 86400)
def process_payment(payment_id: int) -> str:
    """One payment (a resident's "pay now"): a batch of one. Returns its status."""
    try:
        report = batch.process([payment_id])
        return next(iter(report.statuses), "missing")
    finally:
        notify.enqueue_pending_emails()  # emails written by committed steps go out even on a retry


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", retry_intervals=policy.purchase_job_retries,
     result_ttl=3600, failure_ttl=7 * 86400)
def process_payments(payment_ids: list[int]) -> str:
    """Many payments (an automation sweep's): debited together, bought concurrently, recorded together."""
    try:
        return batch.process(payment_ids).summary()
    finally:
        notify.enqueue_pending_emails()


# A check that failed is kept ten minutes for inspection; until then a new event for the same
# payment is absorbed by it (the janitor keeps asking on its own schedule meanwhile).
@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", result_ttl=0, failure_ttl=600)
def check_payment(payment_id: int) -> str:
    """A bill webhook named this payment: ask the provider now (the event itself is not trusted)."""
    try:
        return lifecycle.check_now(payment_id)
    finally:
        notify.enqueue_pending_emails()


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", result_ttl=0, failure_ttl=600)
def requery_payment(payment_id: int) -> str:
    """An unknown payment whose last status call got no answer: ask again now if it is still due
    (the janitor may have asked meanwhile), and schedule the next try if there is still none."""
    try:
        retry_at = requery(payment_id)
        return "done" if retry_at is None else f"no answer; asking again at {retry_at:%H:%M:%S} UTC"
    finally:
        notify.enqueue_pending_emails()


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", result_ttl=0, failure_ttl=600)
def take_over_payment(payment_id: int) -> str:
    """A ``submitted`` payment whose worker's lease ran out (the relay found it): ask its provider."""
    try:
        if not lifecycle.take_over(payment_id):
            return "moved on, or its worker is alive"
        requery(payment_id)
        return "asked the provider"
    finally:
        notify.enqueue_pending_emails()


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", result_ttl=0, failure_ttl=600)
def fetch_late_token(payment_id: int) -> str:
    """A succeeded payment whose token has not come, its next ask due (the relay found it)."""
    try:
        return "token arrived" if lifecycle.fetch_token(payment_id, due_only=True) else "no token yet, or not due"
    finally:
        notify.enqueue_pending_emails()


def requery(payment_id: int, now: datetime | None = None, *, due_only: bool = True) -> datetime | None:
    """``lifecycle.requery``, and when the status call got no answer, the next try scheduled
    within seconds (``requery_later``). Returns that time, or None when there was an answer."""
    retry_at = lifecycle.requery(payment_id, now, due_only=due_only)
    if retry_at is not None:
        requery_later(payment_id, retry_at)
    return retry_at


def requery_later(payment_id: int, when: datetime) -> None:
    """Ask about ``payment_id`` again at ``when`` (its ``next_check_at``). Without Redis the
    janitor's next pass asks instead, a minute later at most."""
    try:
        requery_payment.enqueue_at(when, payment_id, job_id=requery_job_id(payment_id, when))
    except RedisError as exc:
        log.warning("could not schedule the next status check of payment %s (%s); the janitor will ask",
                    payment_id, type(exc).__name__)


def requery_job_id(payment_id: int, due_at: datetime) -> str:
    """The id of the job that makes the status check of ``payment_id`` due at ``due_at``."""
    return f"requery-{payment_id}-{due_at:%Y%m%dT%H%M%S}"


def token_job_id(payment_id: int, due_at: datetime) -> str:
    """The id of the job that asks for the late token of ``payment_id`` due at ``due_at``."""
    return f"token-{payment_id}-{due_at:%Y%m%dT%H%M%S}"
