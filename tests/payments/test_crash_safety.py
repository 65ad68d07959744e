"""kill -9 a real `rq worker` mid-payment; the janitor finishes it with no double debit."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest

from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import Payment
from webapp.models.base import utcnow
from webapp.services import ledger, payments
from webapp.services.payments import jobs

from ..waiting import wait_until
from .helpers import entry_count, fund, link, pay, prepaid_entry, reload, sync_catalogue
from .worker_process import WorkerProcess, descendants, worker_env

pytestmark = pytest.mark.slow


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PAYMENT_STALE_AFTER_SECONDS": 5,
            "PAYMENT_SUBMIT_LEASE_SECONDS": 5}


@pytest.fixture(params=["one payment", "a batch"])
def payment_in_flight(request, app, sandbox, estate, resident):
    """One resident's "pay now" (its own job), or three payments of two providers in one batch job."""
    sync_catalogue(estate.id)
    fund(resident, 50_000_00)
    if request.param == "one payment":
        account = link(resident, prepaid_entry(estate.id, "flutterwave"), "1111111111111")

        def one():
            payment = pay(resident, account)
            return [payment], payment.reference
        return one
    accounts = [link(resident, prepaid_entry(estate.id, provider), number, f"meter {n}")
                for n, (provider, number) in enumerate([("flutterwave", "1111111111111"), ("vtpass", "12345678901"),
                                                        ("flutterwave", "12345678902")])]

    def batch():
        made = [pay(resident, account, key=f"batch-{account.id}") for account in accounts]
        queue(PAYMENTS).empty()  # their own jobs: the test runs them as one batch instead
        job_id = f"batch-{made[0].reference}"
        jobs.process_payments.enqueue([payment.id for payment in made], job_id=job_id)
        return made, job_id
    return batch


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped
    except OSError:
        return False


def status_of(payment_id: int) -> str:
    db.session.rollback()
    return db.session.get(Payment, payment_id).status


def job_started(job_id: str) -> bool:
    from rq.job import Job

    from webapp.infra.redis_client import redis_connection

    return Job.fetch(job_id, connection=redis_connection()).get_status(refresh=True) == "started"


def crash_at(app, pause_point: str, wait_status: str, payment_factory) -> list[Payment]:
    """Pause the worker at ``pause_point`` and kill it there. ``payment_factory`` makes the
    payments and enqueues their job, returning them and the job's id. Waits for every payment to
    reach ``wait_status`` (for ``created``, for the job to start), then for the worker to say it is
    pausing at that point."""
    worker = WorkerProcess(worker_env(app, PAYMENT_PAUSE_POINTS=f"{pause_point}=60"), name=f"crash-{pause_point}")
    try:
        made, job_id = payment_factory()
        if wait_status == "created":
            wait_until(lambda: job_started(job_id), timeout=30, what="the job starting")
        else:
            wait_until(lambda: all(status_of(payment.id) == wait_status for payment in made), timeout=30,
                       what=f"status {wait_status}")
        # The seam logs "pausing N s at <point>" once the work horse is there: the only sign of a pause
        # inside a transaction (nothing committed changes).
        wait_until(lambda: worker.logged(f" s at {pause_point}"), timeout=30,
                   what=f"the worker pausing at {pause_point}")
        horse = descendants(worker.process.pid)
        assert horse, "the job should be running in a work horse"
        worker.kill()
        # The horse (its own process group) must die too, or it would finish the job later.
        wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in horse), timeout=10,
                   what="the work horse dying")
    finally:
        worker.stop()
    assert all(status_of(payment.id) == wait_status for payment in made)  # the kill left the evidence behind
    return made


def finish_with_janitor(payment: Payment) -> Payment:
    now = utcnow()
    for _ in range(4):
        now += timedelta(minutes=30)
        payments.run_janitor(now)
        if reload(payment).is_final:
            break
    return reload(payment)


def assert_succeeded_with_one_debit(payment: Payment, purchase_attempts: int) -> None:
    assert payment.status == "succeeded"
    assert payment.purchase_attempts == purchase_attempts
    assert entry_count(payment.reference, "debit") == 1 and entry_count(payment.reference, "refund") == 0
    assert ledger.check_invariants() == []


def test_kill_between_debit_and_submission(app, payment_in_flight):
    # The debit and `submitted` commit together: killed between them, nothing was committed.
    made = crash_at(app, "after_debit", "created", payment_in_flight)
    assert [entry_count(payment.reference, "debit") for payment in made] == [0] * len(made)
    for payment in made:
        assert_succeeded_with_one_debit(finish_with_janitor(payment), purchase_attempts=1)


def test_kill_after_submission_before_the_request_left(app, payment_in_flight):
    for payment in crash_at(app, "after_submit", "submitted", payment_in_flight):
        # The provider had no record, so the same reference was sent once more, never a new one.
        assert_succeeded_with_one_debit(finish_with_janitor(payment), purchase_attempts=2)


def test_kill_between_submission_and_result(app, payment_in_flight):
    # The purchases reached the provider (it answers at once for these numbers); the worker dies
    # before recording the answers.
    for payment in crash_at(app, "before_result", "submitted", payment_in_flight):
        payment = finish_with_janitor(payment)
        assert_succeeded_with_one_debit(payment, purchase_attempts=1)  # learned by requery, not resent
        assert payment.token
