"""The payout jobs: sending one approved payout (job id ``payout-send-<id>``) and asking the
gateway about one (``payout-check-<id>``, which a webhook or an admin's "ask now" queues).

Both are safe to run twice or at once: each step is a compare-and-set on the payout's status, and
the janitor (``payouts.janitor``) sends or asks about any payout whose job was lost.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from webapp.jobs import PAYMENTS, job
from webapp.models import PayoutStatus
from webapp.models.base import utcnow
from webapp.services import notify
from webapp.services.payouts import transfers

log = logging.getLogger(__name__)


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", result_ttl=3600, failure_ttl=7 * 86400)
def send_payout(payout_id: int) -> str:
    try:
        return transfers.send(payout_id)
    finally:
        notify.enqueue_pending_emails()


@job(PAYMENTS, timeout="PAYMENT_JOB_TIMEOUT_SECONDS", result_ttl=0, failure_ttl=600)
def check_payout(payout_id: int) -> str:
    try:
        status = transfers.check(payout_id, source="status check after a webhook or an admin's request")
        if status == PayoutStatus.APPROVED.value:  # the gateway had no record of it: the same reference again
            enqueue_send(payout_id)
        return status
    finally:
        notify.enqueue_pending_emails()


def enqueue_send(payout_id: int) -> bool:
    """Queue the send after the commit that approved it; False when Redis is away (the janitor
    sends it within a minute or so)."""
    try:
        send_payout.enqueue(payout_id, job_id=f"payout-send-{payout_id}-{_stamp()}")
    except RedisError as exc:
        log.warning("payout %s: send not queued (%s); the janitor will send it", payout_id, exc)
        return False
    return True


def enqueue_check(payout_id: int) -> bool:
    """Queue a check unless one already waits (``unique``). False when it could not be queued."""
    try:
        check_payout.enqueue(payout_id, job_id=f"payout-check-{payout_id}", unique=True)
    except DuplicateJobError:
        return True
    except RedisError as exc:
        log.warning("payout %s: check not queued (%s)", payout_id, exc)
        return False
    return True


def _stamp() -> str:
    return utcnow().strftime("%Y%m%d%H%M%S%f")
