"""Commit, then enqueue, safely: a payment whose job could not be enqueued (Redis away) or was
lost (a Redis restart, a flush) is shown queued, never an error, and the relay enqueues it again
within seconds, in batches. Real Redis, RQ worker and sandbox HTTP."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select, update

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


def sent_by_a_worker_that_died(funded, estate, api_provider: str = "vtpass") -> Payment:
    """A payment debited and committed ``submitted`` by a batch whose worker died before its call."""
    from webapp.services.payments import batch, calls

    account = link(funded, prepaid_entry(estate.id, api_provider), "12345678901")
    payment = pay(funded, account)
    queue(PAYMENTS).empty()
    batch._debit_and_submit(calls.purchase_contexts([payment.id]), batch.BatchReport())
    return reload(payment)


def test_a_sent_payment_whose_worker_died_is_asked_about_once_its_lease_runs_out(app, funded, estate, sandbox):
    payment = sent_by_a_worker_that_died(funded, estate)
    lease = timedelta(seconds=app.config["PAYMENT_SUBMIT_LEASE_SECONDS"])
    assert payment.status == "submitted" and payment.next_check_at <= utcnow() + lease
    assert payments.relay_lost_jobs(utcnow()) == 0, "its lease still runs: the worker may be alive"
    db.session.execute(update(Payment).where(Payment.id == payment.id)  # the lease ran out, nobody renewed it
                       .values(next_check_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert payments.relay_lost_jobs(utcnow()) == 1
    assert [job.func_name.rsplit(".", 1)[-1] for job in queue(PAYMENTS).jobs] == ["take_over_payment"]
    run_worker()
    payment = reload(payment)
    # VTpass never saw it (015 for its request_id), so it went out again under the same one, once.
    assert payment.status == "succeeded" and payment.purchase_attempts == 2
    assert sandbox.processed("vtpass", [payment.reference]) == 1
    assert any("worker stopped" in event.reason for event in payment.events)


def test_a_live_worker_keeps_its_lease_while_its_calls_are_out(app, funded, estate, sandbox):
    from tests.waiting import wait_until
    from webapp.services.payments import leases

    app.config["PAYMENT_SUBMIT_LEASE_SECONDS"] = 2  # renewed every 0.67 s
    payment = sent_by_a_worker_that_died(funded, estate)
    first_end = payment.next_check_at
    with leases.held([payment.id]):
        wait_until(lambda: reload(payment).next_check_at > first_end, timeout=30, what="the lease to be renewed")
    renewed = reload(payment).next_check_at
    assert payments.relay_lost_jobs(renewed - timedelta(seconds=1)) == 0


def test_a_job_started_long_ago_whose_payments_still_wait_is_lost(funded, estate, sandbox):
    """A worker killed -9 mid-job leaves its job "started" in RQ for minutes; a live batch moves
    its payments out of ``created`` within moments of starting, so the relay does not wait."""
    from rq.job import Job

    account = link(funded, prepaid_entry(estate.id, "vtpass"), "12345678901")
    payment = pay(funded, account)
    [job_id] = queue(PAYMENTS).job_ids
    job = Job.fetch(job_id, connection=redis_connection())
    queue(PAYMENTS).remove(job)
    relay_at = later()
    job.started_at = relay_at - timedelta(seconds=2)
    job.set_status("started")
    job.save()
    assert payments.relay_lost_jobs(relay_at) == 0, "started a moment ago: its worker may be at it"
    job.started_at = relay_at - timedelta(seconds=60)
    job.save()
    assert payments.relay_lost_jobs(relay_at) == 1
    run_worker()
    assert reload(payment).status == "succeeded"


def unknown_and_due(funded, estate, sandbox, due_seconds_ago: int = 1) -> Payment:
    """A purchase VTpass answered with a 503 (it may have been processed: unknown), its first
    status check due ``due_seconds_ago``; the provider answers again."""
    sandbox.configure(fault_rate=1.0, fault_kinds=["unavailable"])
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), "12345678901"))
    run_worker()
    sandbox.configure(fault_rate=0.0)
    db.session.execute(update(Payment).where(Payment.id == payment.id)
                       .values(next_check_at=utcnow() - timedelta(seconds=due_seconds_ago)))
    db.session.commit()
    payment = reload(payment)
    assert payment.status == "unknown" and queue(PAYMENTS).count == 0
    return payment


def test_an_unknown_payment_is_asked_about_within_seconds_of_its_check_time_not_at_the_janitors_pass(
        funded, estate, sandbox):
    payment = unknown_and_due(funded, estate, sandbox)
    assert payments.relay_lost_jobs(utcnow()) == 1
    assert queue(PAYMENTS).job_ids == [f"requery-{payment.id}-{payment.next_check_at:%Y%m%dT%H%M%S}"]
    assert payments.relay_lost_jobs(utcnow()) == 0, "its check waits in the queue: not enqueued twice"
    run_worker()
    payment = reload(payment)
    assert payment.status == "succeeded"  # (VTpass had no record of the 503'd purchase: sent again, once)
    assert sandbox.processed("vtpass", [payment.reference]) == 1


def test_a_check_left_scheduled_past_its_time_is_enqueued_by_the_relay(funded, estate, sandbox):
    """The worker running RQ's scheduler was killed: a check scheduled for its time stays
    "scheduled". Moments late it is left to the scheduler; well past its time the relay enqueues it."""
    from rq.registry import ScheduledJobRegistry

    from webapp.services.payments import jobs

    payment = unknown_and_due(funded, estate, sandbox, due_seconds_ago=3)
    jobs.requery_later(payment.id, payment.next_check_at)  # (no worker here runs the scheduler)
    assert ScheduledJobRegistry(queue=queue(PAYMENTS)).count == 1
    assert payments.relay_lost_jobs(utcnow()) == 0, "3 s late: the scheduler may move it yet"
    assert payments.relay_lost_jobs(later()) == 1, "11 s late: its scheduler is gone"
    assert queue(PAYMENTS).job_ids == [f"requery-{payment.id}-{payment.next_check_at:%Y%m%dT%H%M%S}"]
    run_worker()
    assert reload(payment).status == "succeeded"


def test_a_late_token_is_asked_for_within_seconds_of_its_time_once_per_ask(funded, estate, sandbox):
    """6000000000000: the purchase succeeds without a token, which comes on the 2nd status check."""
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), "6000000000000"))
    run_worker()
    for asks in (1, 2):
        payment = reload(payment)
        assert payment.status == "succeeded" and payment.token is None and payment.token_checks == asks - 1
        assert payments.relay_lost_jobs(utcnow()) == 0, "not due yet"
        db.session.execute(update(Payment).where(Payment.id == payment.id)
                           .values(token_next_check_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert payments.relay_lost_jobs(utcnow()) == 1
        assert payments.relay_lost_jobs(utcnow()) == 0, "its ask waits in the queue: not enqueued twice"
        run_worker()
    payment = reload(payment)
    assert payment.token and payment.token_checks == 2 and not payment.token_on_its_way
