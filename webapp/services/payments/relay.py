"""The relay: work a lost job or a dead worker left behind runs again within seconds.

A payment is committed ``created`` first and its job enqueued after (DESIGN: commit, then
enqueue). The enqueue can fail (Redis away), a queued job can vanish (a Redis restart without
persistence, a FLUSHALL), and a worker can die mid-job (kill -9, its machine lost). Every
``PAYMENT_RELAY_INTERVAL`` seconds (cron's ``payments-relay``) the relay looks at:

- ``created`` payments older than ``PAYMENT_RELAY_AFTER_SECONDS`` (so a payment whose enqueue is a
  moment behind its commit is not counted lost), and ``debited`` ones whose retry has been due that
  long: it asks RQ, in one round trip, whether the job that buys each one (its reference, or the id
  in ``Payment.job_id``) still waits or runs. A job that is gone, failed, or "started" that long ago
  while its payments are still waiting is lost: a live batch moves every payment out of ``created``
  and ``debited`` in its first transaction, within moments of starting; a "started" job that has not
  is held by a dead worker (RQ only notices that minutes later). Lost payments are enqueued again in
  batches under new job ids, so a pile of lost work is bought in parallel. A job enqueued twice is
  harmless: a batch locks its payments (``SKIP LOCKED``; SQLite has one writer) and buys only those
  still ``created`` or ``debited``.
- ``submitted`` payments whose lease has run out (``leases``: a live worker keeps pushing
  ``next_check_at`` ahead while its calls are out): the worker that sent them is gone, so each goes
  to a job of its own that asks the provider (``janitor.take_over``: ``submitted`` → ``unknown`` →
  requery; never resent blindly).
- ``unknown`` payments whose check is due and that no requery job waits for: each goes to a job of
  its own, so a check is made within seconds of its time and checks run side by side, instead of
  waiting for the janitor's next pass (up to a minute later). Likewise the asks for a prepaid
  token that did not come with its purchase.

The janitor still does all of this once a minute, as the backstop.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.job import Job, JobStatus
from sqlalchemy import and_, or_, select

from webapp.extensions import db
from webapp.infra.redis_client import redis_connection
from webapp.models.base import utcnow
from webapp.models.payment import Payment, PaymentStatus
from webapp.services.payments import creation, jobs

log = logging.getLogger(__name__)
S = PaymentStatus
BATCH = 1000
ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def waiting_jobs(job_ids: set[str], started_before: datetime, scheduled_lost: set[str] = frozenset()) -> set[str]:
    """Which of these RQ jobs still wait, or run and started after ``started_before`` (one round
    trip); the ones in ``scheduled_lost`` count as lost while they are still only scheduled."""
    ids = sorted(job_ids)
    jobs_found = Job.fetch_many(ids, connection=redis_connection())
    alive = set()
    for job in jobs_found:
        if job is None:
            continue
        status = job.get_status(refresh=False)
        if status == JobStatus.STARTED and job.started_at is not None and job.started_at <= started_before:
            continue  # started long ago and its payments still wait: its worker is gone
        if status == JobStatus.SCHEDULED and job.id in scheduled_lost:
            continue
        if status in ALIVE:
            alive.add(job.id)
    return alive


def relay_lost_jobs(now: datetime | None = None) -> int:
    """Enqueue again the payments whose job is lost, and hand the ``submitted`` ones whose worker
    is gone to jobs that ask the provider; how many payments in all."""
    now = now or utcnow()
    after = now - timedelta(seconds=current_app.config["PAYMENT_RELAY_AFTER_SECONDS"])
    waiting = db.session.execute(
        select(Payment.id, Payment.reference, Payment.job_id)
        .where(or_(and_(Payment.status == S.CREATED.value, Payment.created_at <= after),
                   and_(Payment.status == S.DEBITED.value, Payment.next_check_at <= after)))
        .order_by(Payment.id).limit(BATCH)
    ).all()
    orphaned = db.session.execute(
        select(Payment.id, Payment.next_check_at)
        .where(Payment.status == S.SUBMITTED.value, Payment.next_check_at <= now)
        .order_by(Payment.id).limit(BATCH)
    ).all()
    due = db.session.execute(
        select(Payment.id, Payment.next_check_at)
        .where(Payment.status == S.UNKNOWN.value, Payment.next_check_at <= now)
        .order_by(Payment.next_check_at).limit(BATCH)
    ).all()
    tokens = db.session.execute(
        select(Payment.id, Payment.token_next_check_at)
        .where(Payment.status == S.SUCCEEDED.value, Payment.token.is_(None), Payment.token_next_check_at <= now)
        .order_by(Payment.token_next_check_at).limit(BATCH)
    ).all()
    db.session.rollback()
    return (_enqueue_lost(waiting, now, after) + _hand_over(orphaned)
            + _ask_when_due(due, after, jobs.requery_payment, jobs.requery_job_id)
            + _ask_when_due(tokens, after, jobs.fetch_late_token, jobs.token_job_id))


def _enqueue_lost(rows, now: datetime, after: datetime) -> int:
    if not rows:
        return 0
    alive = waiting_jobs({job_id or reference for _, reference, job_id in rows}, after)
    lost = [(payment_id, reference) for payment_id, reference, job_id in rows if (job_id or reference) not in alive]
    if not lost:
        return 0
    # New job ids: the lost job's id may still be held by a dead worker's "started" entry.
    plan = [creation.PlannedJob(f"batch-relay-{now:%Y%m%dT%H%M%S}-{job.job_id.removeprefix('batch-')}",
                                job.payment_ids) for job in creation.plan_jobs(lost)]
    creation.record_jobs(plan)
    db.session.commit()
    if creation.enqueue_many(lost, plan):
        log.warning("relay: %s payment(s) had lost their job; enqueued again in %s job(s)", len(lost), len(plan))
        return len(lost)
    return 0


def _hand_over(rows) -> int:
    """A take-over job for each ``submitted`` payment whose lease ran out (one Redis round trip). A
    second one for the same payment is harmless: a take-over locks the payment and acts only while
    it is still ``submitted`` past its lease."""
    if not rows:
        return 0
    try:
        jobs.take_over_payment.enqueue_many(
            [((payment_id,), f"take-over-{payment_id}-{lease_end:%Y%m%dT%H%M%S}") for payment_id, lease_end in rows])
    except RedisError as exc:
        log.warning("relay: could not hand over %s payment(s) (%s)", len(rows), type(exc).__name__)
        return 0
    log.warning("relay: %s submitted payment(s) outlived their worker's lease; asking their providers", len(rows))
    return len(rows)


def _ask_when_due(rows, after: datetime, job, job_id) -> int:
    """A ``job`` (a requery, or an ask for a late token) for each payment of ``rows`` (id, when its
    ask is due) that has none waiting or running (one round trip to look, one to enqueue). A
    requery's id (``job_id``) is the one ``jobs.requery_later`` gives a check scheduled for that
    time, so one job serves both. Two for the same ask are harmless: each job claims the ask
    before it calls the provider, and the second finds it not due."""
    if not rows:
        return 0
    ids = {payment_id: job_id(payment_id, due_at) for payment_id, due_at in rows}
    overdue = {ids[payment_id] for payment_id, due_at in rows if due_at <= after}
    try:
        # A check scheduled for its time that is still "scheduled" well after it (the worker
        # running RQ's scheduler was killed) is enqueued now rather than left to wait for it.
        alive = waiting_jobs(set(ids.values()), after, scheduled_lost=overdue)
        wanted = [((payment_id,), one_id) for payment_id, one_id in ids.items() if one_id not in alive]
        if wanted:
            job.enqueue_many(wanted)
    except RedisError as exc:
        log.warning("relay: could not enqueue %s due ask(s) of the provider (%s)", len(rows), type(exc).__name__)
        return 0
    return len(wanted)
