"""The whole product under faults (``tests/chaos.py``): real gunicorn, `flask worker`s, `flask cron`,
a real redis-server killed and started again and flushed, the sandbox faulting its calls, and kill -9
of workers, their work horses and cron while residents send the pay form. Every payment ends final
with its money right, no worker dies of the outage, and the pay form never answers a server error.

On PostgreSQL only (CI runs it there): a database of its own, so its drop and recreate touch
nobody else's. ``bench/chaos.py`` is the bigger run with figures.
"""
from __future__ import annotations

import os

import pytest

from webapp.config import normalise_database_url

from . import chaos
from .databases import private_postgres_database

pytestmark = pytest.mark.slow

PLAN = chaos.Plan(payments=40, residents=8, workers=4, fault_rate=0.25, submit_over=15.0, kill_every=4.0,
                  kill_until=24.0, cron_kill_at=6.0, redis_stop_at=10.0, flushall_at=18.0, deadline=420.0, seed=11)


@pytest.fixture
def chaos_database():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url or not normalise_database_url(url).startswith("postgresql"):
        pytest.skip("the chaos run needs PostgreSQL (set TEST_DATABASE_URL); CI runs it there")
    database = private_postgres_database(url, f"chaos_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    yield database.url
    database.drop()


def test_faults_kills_and_redis_outages_lose_no_money_and_show_no_error(app, chaos_database, tmp_path):
    lines: list[str] = []
    outcome = chaos.run(PLAN, chaos_database, tmp_path, progress=lines.append)
    story = "\n".join(lines)
    assert outcome.payments == PLAN.payments, story
    assert outcome.final == outcome.payments, f"{outcome.statuses}\n{story}"
    assert outcome.double_debits == 0 and outcome.processed_twice == 0, story
    assert outcome.wallets_off == 0 and outcome.ledger_problems == [], story
    assert outcome.worker_deaths == [], story
    assert outcome.pay_form_errors == 0 and set(outcome.pay_form) == {"302"}, f"{outcome.pay_form}\n{story}"
    # The payments Redis lost (queued jobs, failed enqueues) all ran again before the end.
    assert set(outcome.recovery) == {"restart", "flushall"} and None not in outcome.recovery.values(), story
