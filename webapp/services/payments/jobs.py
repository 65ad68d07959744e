"""The payment jobs: buying one payment (job id = the payment's reference), buying a batch (job id
``batch-<first reference>``), and the status check a bill webhook asks for (``check-<reference>``)."""
from __future__ import annotations

from webapp.jobs import PAYMENTS, job
from webapp.services import notify, policy
from webapp.services.payments import batch, lifecycle


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
