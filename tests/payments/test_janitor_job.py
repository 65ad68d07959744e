"""The janitor's periodic job: one pass at a time, whatever cron enqueues meanwhile."""
from __future__ import annotations

import threading

import pytest

from webapp.infra.redis_client import redis_connection
from workers import payment_jobs

from .helpers import link, pay, prepaid_entry, reload


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PAYMENT_STALE_AFTER_SECONDS": 0,
            "PAYMENT_SUBMIT_LEASE_SECONDS": 0}


def test_a_second_janitor_steps_aside_while_one_runs_and_runs_once_it_is_done(jobs_run_here, funded, estate):
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), "12345678901"))  # its job "lost"
    held = redis_connection().lock(payment_jobs.JANITOR_LOCK, timeout=60)
    assert held.acquire(blocking=False), "a pass is running"
    assert "steps aside" in payment_jobs.run_janitor()
    assert reload(payment).status == "created", "the second pass did nothing"
    held.release()
    assert payment_jobs.run_janitor().startswith("janitor: 1 created processed")
    assert reload(payment).status == "succeeded"


def test_the_janitor_runs_its_status_checks_side_by_side_each_with_a_session_of_its_own(app):
    """Every step waits at a barrier for all the others: one after another, the first would wait
    out the barrier's timeout and the pass would report it. Each step sees its own session."""
    from webapp.extensions import db
    from webapp.services.payments import janitor

    ids = list(range(1, 7))
    app.config["JANITOR_CONCURRENCY"] = len(ids)
    barrier, sessions = threading.Barrier(len(ids), timeout=60), {}

    def step(payment_id: int) -> None:
        sessions[payment_id] = id(db.session())
        barrier.wait()

    assert janitor._concurrently(ids, step) == [(payment_id, None) for payment_id in ids]
    assert len(set(sessions.values())) == len(ids)


def test_a_janitor_step_that_raises_is_reported_and_the_others_still_run(app):
    from webapp.services.payments import janitor

    def step(payment_id: int) -> None:
        if payment_id == 2:
            raise ValueError("broken row")

    found = janitor._concurrently([1, 2, 3], step)
    assert [(payment_id, type(error).__name__) for payment_id, error in found] == [
        (1, "NoneType"), (2, "ValueError"), (3, "NoneType")]


def test_a_running_pass_renews_its_short_lock_so_a_killed_one_holds_up_the_next_a_minute_at_most(
        app, monkeypatch):
    from tests.waiting import wait_until

    assert payment_jobs.JANITOR_LOCK_SECONDS <= 60 < payment_jobs.JANITOR_TIMEOUT
    monkeypatch.setattr(payment_jobs, "JANITOR_LOCK_SECONDS", 3)  # renewed every second
    connection = redis_connection()
    lock = connection.lock(payment_jobs.JANITOR_LOCK, timeout=3, thread_local=False)  # as run_janitor's
    assert lock.acquire(blocking=False)
    try:
        lowest = [connection.pttl(payment_jobs.JANITOR_LOCK)]

        def renewed() -> bool:  # its time left went up again, by more than the polling could blur
            left = connection.pttl(payment_jobs.JANITOR_LOCK)
            lowest[0] = min(lowest[0], left)
            return left > lowest[0] + 500

        with payment_jobs._renewed(lock):
            wait_until(renewed, timeout=30, what="the lock to be renewed")
    finally:
        lock.release()
