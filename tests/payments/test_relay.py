"""Commit, then enqueue, safely: a payment whose job could not be enqueued (Redis away) or was
lost (a Redis restart, a flush) is shown queued, never an error, and the relay enqueues it again
within seconds, in batches. Real Redis, RQ worker and sandbox HTTP."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.local_services import free_port
from webapp.infra.redis_client import redis_connection
from webapp.jobs import PAYMENTS, queue
from webapp.models import Payment
from webapp.models.base import utcnow
from webapp.services import payments
from workers.schedule import PERIODIC_JOBS

from .helpers import link, pay, prepaid_entry, reload, run_worker
from .test_pay_views import confirm_data, review


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PAYMENT_BATCH_SIZE": 2}


@contextmanager
def redis_unreachable(app):
    """The app's Redis is a port where nothing listens (the rate limiter falls back to memory)."""
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    try:
        yield
    finally:
        app.config["REDIS_URL"] = real


def later(seconds: int = 11):
    """Past ``PAYMENT_RELAY_AFTER_SECONDS``: a payment this old with no job has lost it."""
    return utcnow() + timedelta(seconds=seconds)


def payments_of(user) -> list[Payment]:
    db.session.rollback()
    return list(db.session.scalars(select(Payment).where(Payment.user_id == user.id).order_by(Payment.id)))


def test_a_pay_form_whose_enqueue_fails_shows_the_payment_queued_and_the_relay_buys_it(
        app, auth, client, funded, estate, sandbox):
    account = link(funded, prepaid_entry(estate.id, "vtpass"), "12345678901")
    auth.login(funded.email)
    data = {**confirm_data(review(auth, account.id, "5000").get_data(as_text=True)), "csrf_token": auth.csrf("/pay/")}
    with redis_unreachable(app):
        response = client.post("/pay/confirm", data=data)
        assert response.status_code == 302, "never a server error: the payment is committed"
        page = client.get(response.headers["Location"])
        assert page.status_code == 200 and "Queued" in page.get_data(as_text=True)
        again = client.post("/pay/confirm", data=data)  # the resident tries again: still one payment
        assert again.headers["Location"] == response.headers["Location"]
    [payment] = payments_of(funded)
    assert payment.status == "created" and queue(PAYMENTS).job_ids == []
    assert payments.relay_lost_jobs(utcnow()) == 0, "not before PAYMENT_RELAY_AFTER_SECONDS"
    assert payments.relay_lost_jobs(later()) == 1
    run_worker()
    assert reload(payment).status == "succeeded"
    assert payments.relay_lost_jobs(later()) == 0


def test_jobs_lost_to_a_flush_are_enqueued_again_in_batches_and_waiting_ones_are_left(funded, estate, sandbox):
    accounts = [link(funded, prepaid_entry(estate.id, "flutterwave"), f"1234567890{i}") for i in range(5)]
    made = [pay(funded, account) for account in accounts]
    queue(PAYMENTS).empty()
    pairs = [(payment.id, payment.reference) for payment in made]
    plan = payments.plan_jobs(pairs)  # as the sweep does: batch jobs noted on their payments, then enqueued
    payments.record_jobs(plan)
    db.session.commit()
    assert payments.enqueue_many(pairs, plan)
    assert len(queue(PAYMENTS).job_ids) == 3  # 2 + 2 + 1
    assert payments.relay_lost_jobs(later()) == 0, "their jobs are waiting"

    redis_connection().flushdb()  # the queue is gone, the payments are committed
    assert payments.relay_lost_jobs(later()) == 5
    assert len(queue(PAYMENTS).job_ids) == 3, "in batches, bought in parallel"
    assert payments.relay_lost_jobs(later()) == 0, "enqueued once"
    run_worker()
    assert {reload(payment).status for payment in made} == {"succeeded"}


def test_the_relay_runs_every_ten_seconds_on_the_periodic_queue():
    [relay] = [job for job in PERIODIC_JOBS if job.name == "payments-relay"]
    assert relay.interval == 10 and relay.queue == "periodic"
