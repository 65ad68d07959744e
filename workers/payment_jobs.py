"""Periodic payment jobs: the janitor and the daily reconciliation."""
from __future__ import annotations

import contextlib
import logging

from redis.exceptions import LockError, RedisError

from webapp.infra import keeper
from webapp.infra.redis_client import redis_connection
from webapp.jobs import PERIODIC, job
from webapp.services import notify, payments, reconciliation

log = logging.getLogger(__name__)
JANITOR_TIMEOUT = 600
JANITOR_LOCK = "autopay:janitor"
JANITOR_LOCK_SECONDS = 60  # renewed every third of it while the pass runs


@job(PERIODIC, timeout=JANITOR_TIMEOUT)
def run_janitor() -> str:
    """One janitor pass, never two at once: a pass that outlives the minute (a backlog of lost
    work) makes the next one that cron enqueues step aside instead of racing it. The lock (a
    redis-py ``Lock``) lasts a minute and a thread of the pass renews it every 20 s, so a janitor
    killed -9 holds up the next pass by a minute at most, not by the job's whole timeout."""
    # (not thread-local: the thread that renews it must see the token this one took)
    lock = redis_connection().lock(JANITOR_LOCK, timeout=JANITOR_LOCK_SECONDS, blocking=False, thread_local=False)
    try:
        if not lock.acquire():
            return "janitor: another pass is still running; this one steps aside"
    except RedisError:  # the pass matters more than its exclusivity (each step locks its rows)
        log.warning("janitor: could not take its lock (Redis unavailable); running anyway")
    try:
        with _renewed(lock):
            return payments.run_janitor().summary()
    finally:
        notify.enqueue_pending_emails()
        with contextlib.suppress(LockError, RedisError):  # expired or unreachable: nothing to give back
            lock.release()


def _renewed(lock):
    def renew() -> None:
        with contextlib.suppress(LockError, RedisError):  # not ours, or Redis away: the next try
            lock.reacquire()

    return keeper.every(JANITOR_LOCK_SECONDS / 3, renew, "janitor-lock")


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
