"""On PostgreSQL: 8 worker processes pay 200 payments while the sandbox injects faults at 30%."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import JournalEntry, Payment
from webapp.models.base import utcnow
from webapp.services import ledger, payments

from .helpers import fund, link, pay, prepaid_entry, sync_catalogue
from .worker_process import WorkerProcess, worker_env

pytestmark = pytest.mark.slow
WORKERS = 8
PAYMENTS = 200


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PAYMENT_STALE_AFTER_SECONDS": 5,
            "PAYMENT_SUBMIT_LEASE_SECONDS": 5}


def test_200_payments_8_workers_30_percent_faults(app, require_postgres, sandbox, estate, resident, other_resident):
    sync_catalogue(estate.id)
    residents = [resident, other_resident]
    accounts = []
    for person in residents:
        fund(person, 10_000_000_00)
        for provider, number in (("flutterwave", "1111111111111"), ("vtpass", "22222222222")):
            accounts.append((person, link(person, prepaid_entry(estate.id, provider), number,
                                          nickname=f"{provider} meter")))
    sandbox.configure(fault_rate=0.3, seed=20261126)
    started = time.monotonic()
    # Distinct whole-naira amounts: Flutterwave takes no kobo (its bill amount is an integer of naira).
    created = [pay(person, account, amount_kobo=1_000_00 + 100 * i, key=f"bulk-{i}")
               for i in range(PAYMENTS) for person, account in [accounts[i % len(accounts)]]]
    assert len({p.reference for p in created}) == PAYMENTS
    env = worker_env(app)
    pool = [WorkerProcess(env, name=f"bulk-{n}", burst=True) for n in range(WORKERS)]
    for worker in pool:
        worker.wait(timeout=600)
    workers_done = time.monotonic() - started

    # Unknowns and retries are the janitor's: passes with time moved on until everything is final.
    now = started_at = utcnow()
    for _ in range(40):
        db.session.rollback()
        open_count = db.session.scalar(select(func.count(Payment.id)).where(
            Payment.status.notin_(["succeeded", "failed", "cancelled"])))
        if open_count == 0:
            break
        now += timedelta(hours=25)  # past the longest requery backoff: every unknown is asked each pass
        # The sandbox's clock moves too, so a VTpass resend is dated its own "today" (085 otherwise).
        sandbox.configure(clock_offset_seconds=(now - started_at).total_seconds())
        try:
            payments.run_janitor(now)
        except payments.JanitorErrors as exc:  # a fault mid-pass; the next pass continues
            print(exc)
    total = time.monotonic() - started
    db.session.rollback()

    statuses = dict(db.session.execute(select(Payment.status, func.count()).group_by(Payment.status)).all())
    print(f"\n200 payments, 8 workers, fault rate 30%: workers {workers_done:.1f} s, all final {total:.1f} s, "
          f"statuses {statuses}")
    assert set(statuses) <= {"succeeded", "failed"}, statuses
    assert sum(statuses.values()) == PAYMENTS
    debits = db.session.execute(
        select(JournalEntry.reference, func.count()).where(JournalEntry.idempotency_key.like("payment:%:debit"))
        .group_by(JournalEntry.reference)).all()
    assert all(n == 1 for _, n in debits)
    assert len(debits) == PAYMENTS
    assert ledger.check_invariants() == []
