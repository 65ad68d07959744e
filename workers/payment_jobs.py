"""Periodic payment jobs: the janitor and the daily reconciliation."""
from __future__ import annotations

import contextlib
import logging

from redis.exceptions import LockError, RedisError

from webapp.infra.redis_client import redis_connection
from webapp.jobs import PERIODIC, job
from webapp.services import notify, payments, reconciliation

log = logging.getLogger(__name__)
JANITOR_TIMEOUT = 600
JANITOR_LOCK = "autopay:janitor"


@job(PERIODIC, timeout=JANITOR_TIMEOUT)
def run_janitor() -> str:
    """One janitor pass, never two at once: a pass that outlives the minute (a backlog of lost
    work) makes the next one that cron enqueues step aside instead of racing it. The lock (a
    redis-py ``Lock``) ends with the job's timeout, so a killed janitor cannot block the next for
    longer than that."""
    lock = redis_connection().lock(JANITOR_LOCK, timeout=JANITOR_TIMEOUT, blocking=False)
    try:
        if not lock.acquire():
            return "janitor: another pass is still running; this one steps aside"
    except RedisError:  # the pass matters more than its exclusivity (each step locks its rows)
        log.warning("janitor: could not take its lock (Redis unavailable); running anyway")
    try:
        return payments.run_janitor().summary()
    finally:
        notify.enqueue_pending_emails()
        with contextlib.suppress(LockError, RedisError):  # expired or unreachable: nothing to give back
            lock.release()


@job(PERIODIC, timeout=120)
def relay_lost_payment_jobs() -> str:
    """Committed payments whose job was lost, enqueued again (``payments.relay``)."""
    return f"relay: {payments.relay_lost_jobs()} payment(s) enqueued again"


# One requery per VTpass purchase of the day, hence the long timeout.
@job(PERIODIC, timeout=3600)
def reconcile_yesterday() -> str:
    """Yesterday (Lagos) against every provider; a day already reconciled is left as it was. A provider
    that could not be asked fails the job (visible in RQ) after the others were reconciled."""
    runs = reconciliation.reconcile_all(reconciliation.previous_lagos_day())
    return "\n".join(reconciliation.summary(run) for run in runs)
