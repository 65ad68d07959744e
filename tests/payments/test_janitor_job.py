"""The janitor's periodic job: one pass at a time, whatever cron enqueues meanwhile."""
from __future__ import annotations

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
