"""The relay: committed payments whose job was lost are bought again within seconds.

A payment is committed ``created`` first and its job enqueued after (DESIGN: commit, then
enqueue). The enqueue can fail (Redis away) and a queued job can vanish (a Redis restart without
persistence, a FLUSHALL). Every ``PAYMENT_RELAY_INTERVAL`` seconds the relay looks at ``created``
payments older than ``PAYMENT_RELAY_AFTER_SECONDS`` (so a payment whose enqueue is a moment behind
its commit is not counted lost), asks RQ whether the job that buys each one (its reference, or the
batch's id in ``Payment.job_id``) still waits or runs, and enqueues those whose job is gone, in
batches, so a pile of lost work is bought in parallel. A job enqueued twice is harmless: a batch
locks its payments (``SKIP LOCKED``) and buys only those still ``created`` or ``debited``.

A worker killed mid-job leaves its job "started" in RQ until RQ notices the worker is gone; the
janitor finishes those payments after ``PAYMENT_STALE_AFTER_SECONDS``, as before.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from rq.job import Job, JobStatus
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.redis_client import redis_connection
from webapp.models.base import utcnow
from webapp.models.payment import Payment, PaymentStatus
from webapp.services.payments import creation

log = logging.getLogger(__name__)
BATCH = 1000
ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def waiting_jobs(job_ids: set[str]) -> set[str]:
    """Which of these RQ jobs still wait or run (one round trip)."""
    ids = sorted(job_ids)
    jobs = Job.fetch_many(ids, connection=redis_connection())
    return {job.id for job in jobs if job is not None and job.get_status(refresh=False) in ALIVE}


def relay_lost_jobs(now: datetime | None = None) -> int:
    """Enqueue again the ``created`` payments whose job is gone; how many."""
    now = now or utcnow()
    after = timedelta(seconds=current_app.config["PAYMENT_RELAY_AFTER_SECONDS"])
    rows = db.session.execute(
        select(Payment.id, Payment.reference, Payment.job_id)
        .where(Payment.status == PaymentStatus.CREATED.value, Payment.created_at <= now - after)
        .order_by(Payment.id).limit(BATCH)
    ).all()
    db.session.rollback()
    if not rows:
        return 0
    alive = waiting_jobs({job_id or reference for _, reference, job_id in rows})
    lost = [(payment_id, reference) for payment_id, reference, job_id in rows if (job_id or reference) not in alive]
    if not lost:
        return 0
    plan = creation.plan_jobs(lost)
    creation.record_jobs(plan)
    db.session.commit()
    if creation.enqueue_many(lost, plan):
        log.warning("relay: %s payment(s) had lost their job; enqueued again in %s job(s)", len(lost), len(plan))
        return len(lost)
    return 0
