"""Payments bought in batches (DESIGN §9): one job per batch, one debit transaction, concurrent
purchase calls, one outcome transaction, and the same end for every payment as it would have alone."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra import provider_slots
from webapp.jobs import PAYMENTS, queue
from webapp.models import Notification
from webapp.models.payment import ProviderCallLog, ProviderReference
from webapp.providers.base import PurchaseResult
from webapp.services import ledger, payments
from webapp.services.payments import batch, calls, jobs

from ..sql_counting import counted_statements
from ..waiting import wait_until
from .helpers import PROVIDERS, entry_count, fund, link, prepaid_entry, reload, run_worker, sync_catalogue
from .test_lifecycle_sandbox import SANDBOX_NUMBERS, processed


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PROVIDER_MAX_CONCURRENCY": 16}


@pytest.fixture
def catalogue(app, sandbox, estate):
    sync_catalogue(estate.id)
    return estate


def created_without_jobs(user, accounts, amount_kobo: int = 5_000_00) -> list:
    """``created`` payments whose single-payment jobs are taken off the queue again, so the test
    decides how they are batched."""
    made = [payments.create_utility_payment(user, account.id, amount_kobo, f"k-{account.id}") for account in accounts]
    queue(PAYMENTS).empty()
    return made


def test_the_sweep_enqueues_one_job_per_batch(app, catalogue, resident):
    fund(resident, 100_000_00)
    accounts = [link(resident, prepaid_entry(catalogue.id, "vtpass"), f"1234567890{i}") for i in range(5)]
    made = created_without_jobs(resident, accounts)
    app.config["PAYMENT_BATCH_SIZE"] = 2
    payments.enqueue_many([(payment.id, payment.reference) for payment in made])
    # 5 payments in batches of 2: two batch jobs and the last one alone under its own reference.
    assert sorted(queue(PAYMENTS).job_ids) == sorted([f"batch-{made[0].reference}", f"batch-{made[2].reference}",
                                                      made[4].reference])


def test_every_test_number_in_one_batch_ends_as_it_would_alone(app, catalogue, resident, other_resident, sandbox):
    """Two residents (one per provider, as a number is linked once per resident) in one batch."""
    payer = {"vtpass": resident, "flutterwave": other_resident}
    for user in payer.values():
        fund(user, 1_000_000_00)
    rows = [(row, api_provider) for api_provider in PROVIDERS for row in SANDBOX_NUMBERS]
    made = []
    for api_provider in PROVIDERS:
        accounts = [link(payer[api_provider], prepaid_entry(catalogue.id, api_provider), row.number, f"meter {n}")
                    for n, row in enumerate(SANDBOX_NUMBERS)]
        made += created_without_jobs(payer[api_provider], accounts)
    jobs.process_payments.enqueue([payment.id for payment in made], job_id=f"batch-{made[0].reference}")
    run_worker()
    for (row, api_provider), payment in zip(rows, made, strict=True):
        payment = reload(payment)
        assert payment.status == row.first, (row.behaviour, api_provider, payment.status)
        assert entry_count(payment.reference, "debit") == 1
        assert entry_count(payment.reference, "refund") == (1 if row.first == "failed" else 0)
        assert processed(sandbox, payment) <= 1, (row.behaviour, api_provider)
        assert bool(payment.token) == (row.first == "succeeded" and row.token)
    assert ledger.check_invariants() == []


def test_a_wallet_that_covers_part_of_a_batch_pays_in_order_and_cancels_the_rest(app, catalogue, resident, sandbox):
    accounts = [link(resident, prepaid_entry(catalogue.id, "flutterwave"), f"1234567890{i}") for i in range(3)]
    fund(resident, 10_000_00)
    fund(resident, 1_000_00, reference="top-up")  # enough for two ₦5,000 payments and their fees
    made = created_without_jobs(resident, accounts)
    report = batch.process([payment.id for payment in made])
    first, second, third = (reload(payment) for payment in made)
    assert (first.status, second.status, third.status) == ("succeeded", "succeeded", "cancelled")
    assert "Not enough money in your wallet" in third.status_reason
    assert entry_count(third.reference, "debit") == 0 and processed(sandbox, third) == 0
    assert ledger.wallet_balance(resident.id) == 11_000_00 - first.total_kobo - second.total_kobo
    assert (report.submitted, report.cancelled) == (2, 1)
    assert ledger.check_invariants() == []


def test_the_purchases_of_a_batch_are_in_flight_together(app, catalogue, resident, sandbox):
    """A serial call stage never has more than one call holding a provider slot."""
    fund(resident, 100_000_00)
    accounts = [link(resident, prepaid_entry(catalogue.id, "vtpass"), f"1234567890{i}") for i in range(6)]
    made = created_without_jobs(resident, accounts)
    sandbox.configure(latency=0.6)  # under the tests' 1 s read timeout
    done = threading.Event()

    def run_batch():
        with app.app_context():
            try:
                batch.process([payment.id for payment in made])
            finally:
                db.session.remove()
                done.set()

    slots = provider_slots.slots_for("vtpass")
    worker = threading.Thread(target=run_batch)
    worker.start()
    try:
        wait_until(lambda: slots.holders() == 6 or done.is_set(), timeout=30, what="six calls in flight")
        assert slots.holders() == 6
    finally:
        worker.join(timeout=60)
    assert all(reload(payment).status == "succeeded" for payment in made)


def test_two_workers_given_the_same_batch_buy_each_payment_once(require_postgres, app, catalogue, resident, sandbox):
    fund(resident, 100_000_00)
    accounts = [link(resident, prepaid_entry(catalogue.id, api_provider), f"1234567890{i}")
                for i, api_provider in enumerate(PROVIDERS * 3)]
    made = created_without_jobs(resident, accounts)
    sandbox.configure(latency=0.3)
    ids = [payment.id for payment in made]
    barrier, errors = threading.Barrier(2), []

    def run_batch(order):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                batch.process(order)
            except Exception as exc:  # asserted on below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run_batch, args=(order,)) for order in (ids, ids[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for payment in made:
        payment = reload(payment)
        assert payment.status == "succeeded" and payment.purchase_attempts == 1
        assert entry_count(payment.reference, "debit") == 1 and processed(sandbox, payment) == 1
    assert ledger.check_invariants() == []


def _batch_statements(resident, accounts) -> tuple[list[str], list]:
    made = created_without_jobs(resident, accounts)
    with counted_statements() as seen:
        batch.process([payment.id for payment in made])
    return seen, made


def test_a_batch_writes_its_timelines_logs_and_notifications_a_table_at_a_time(app, catalogue, resident, sandbox):
    """The rows a batch adds per payment (events, audit, call logs, references, notifications,
    outbox emails) cost a few statements per batch, not per payment; and every payment still
    ends with its whole timeline and one notification of each kind."""
    fund(resident, 1_000_000_00)
    entry = prepaid_entry(catalogue.id, "flutterwave")
    small, large = ([link(resident, entry, f"1234567{size}{i:03d}") for i in range(size)] for size in (3, 9))
    _batch_statements(resident, small[:1])  # the resident's first payment opens the ledger accounts
    counts = {}
    for accounts in (small[1:], large):
        seen, made = _batch_statements(resident, accounts)
        counts[len(made)] = Counter(" ".join(s.split()[:3]) for s in seen if s.startswith("INSERT"))
        for payment in made:
            payment = reload(payment)
            assert payment.status == "succeeded"
            assert [(e.from_status, e.to_status) for e in payment.events] == [
                (None, "created"), ("created", "debited"), ("debited", "submitted"), ("submitted", "succeeded")]
            assert db.session.scalar(select(func.count()).select_from(ProviderCallLog)
                                     .where(ProviderCallLog.payment_id == payment.id)) >= 1
            keys = db.session.scalars(select(Notification.dedup_key).where(
                Notification.dedup_key.like(f"payment:{payment.reference}:%"))).all()
            assert keys == [f"payment:{payment.reference}:succeeded"]
    few, many = counts[2], counts[9]
    for table in ("INSERT INTO payment_events", "INSERT INTO audit_entries", "INSERT INTO provider_calls",
                  "INSERT INTO notifications", "INSERT INTO email_messages"):
        assert many[table] == few[table] and few[table] <= 2, (table, few, many)
    assert ledger.check_invariants() == []


def test_payments_of_one_batch_answered_with_the_same_provider_reference_keep_it_once(app, catalogue, resident):
    """Two answers naming one provider reference (a provider bug): the first payment keeps it and
    the batch still commits, as it did one payment at a time."""
    fund(resident, 100_000_00)
    accounts = [link(resident, prepaid_entry(catalogue.id, "flutterwave"), f"1234567890{i}") for i in range(2)]
    made = created_without_jobs(resident, accounts)
    ids = sorted(payment.id for payment in made)
    contexts = calls.purchase_contexts(ids)
    db.session.rollback()
    assert batch._debit_and_submit(contexts, batch.BatchReport()) == ids  # transaction 1, as a worker runs it
    answers = [(PurchaseResult(reference=contexts[i].request["reference"], status="succeeded",
                               provider_reference="FLW-SAME", refs={"flw_ref": "FLW-SAME"}), None, []) for i in ids]
    retry, crashed = batch._record_all(ids, answers, contexts, batch.BatchReport())
    assert (retry, crashed) == (0, [])
    owners = db.session.scalars(select(ProviderReference.payment_id).where(ProviderReference.value == "FLW-SAME")).all()
    assert owners == [ids[0]]
    assert {reload(payment).status for payment in made} == {"succeeded"}
