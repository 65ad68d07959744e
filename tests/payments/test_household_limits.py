"""A household payer's monthly limit, checked where the money moves (under the owner's wallet lock).

Two payments that each fit the limit but not together are both created (nothing holds money yet,
so the pay form lets both through); real RQ workers then debit exactly one of them, whether they
are bought in one batch or one by one, and the other fails before any debit with the reason.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import JournalEntry, Payment
from webapp.models.base import utcnow
from webapp.services import ledger, payments
from webapp.services.households import limits
from webapp.services.payments import lifecycle

from ..factories_households import make_member
from ..factories_payments import make_payment
from .helpers import fund, link, prepaid_entry, run_worker, sync_catalogue

LIMIT = 6_000_00
REACHED = "Your household limit of ₦6,000.00 this month is reached"


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PROVIDER_MAX_CONCURRENCY": 16}


@pytest.fixture
def household(app, sandbox, estate, resident, other_resident):
    """The resident's wallet (₦100,000) and two meters; the other resident pays from it, up to ₦6,000."""
    sync_catalogue(estate.id)
    fund(resident, 100_000_00)
    entry = prepaid_entry(estate.id, "vtpass")
    accounts = [link(resident, entry, f"4501234567{i}", nickname=f"Meter {i}") for i in range(2)]
    membership = make_member(resident, other_resident, role="payer", monthly_limit_kobo=LIMIT)
    return accounts, membership


def two_payments_by_the_payer(resident, other_resident, accounts) -> list[Payment]:
    made = [payments.create_utility_payment(resident, account.id, 5_000_00, f"hh-{account.id}", made_by=other_resident)
            for account in accounts]
    queue(PAYMENTS).empty()  # the test decides how they are bought
    return made


def debits() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(JournalEntry.id))
                             .where(JournalEntry.idempotency_key.like("payment:%:debit")))


def outcome(made: list[Payment]) -> list[tuple[str, str | None]]:
    db.session.rollback()
    return sorted((db.session.get(Payment, p.id).status, db.session.get(Payment, p.id).status_reason) for p in made)


def assert_exactly_one_debited(made):
    (failed, reason), (succeeded, _) = outcome(made)
    assert (failed, succeeded) == ("failed", "succeeded")
    assert reason.startswith(REACHED) and "Nothing was taken" in reason
    assert debits() == 1
    assert ledger.check_invariants() == []


def test_a_batch_debits_only_what_the_limit_leaves(app, household, resident, other_resident):
    accounts, _ = household
    made = two_payments_by_the_payer(resident, other_resident, accounts)
    app.config["PAYMENT_BATCH_SIZE"] = 2
    payments.enqueue_many([(p.id, p.reference) for p in made])
    assert queue(PAYMENTS).job_ids == [f"batch-{made[0].reference}"]
    run_worker()
    assert_exactly_one_debited(made)


def test_payments_bought_one_by_one_debit_only_what_the_limit_leaves(app, household, resident, other_resident):
    accounts, _ = household
    made = two_payments_by_the_payer(resident, other_resident, accounts)
    app.config["PAYMENT_BATCH_SIZE"] = 1
    payments.enqueue_many([(p.id, p.reference) for p in made])
    run_worker()
    assert_exactly_one_debited(made)


def test_the_pay_form_says_the_limit_is_reached(app, client, auth, household, resident, other_resident):
    accounts, membership = household
    make_payment(resident, accounts[0], "succeeded", amount_kobo=5_000_00, made_by_id=other_resident.id)
    auth.login(other_resident.email)
    auth.post("/household/switch", {"household": str(membership.id)}, page="/household/")
    response = auth.post("/pay/review", {"account": str(accounts[1].id), "amount": "5000"}, page="/pay/")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert REACHED in page and 'value="5000"' in page
    assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_only_this_months_money_holding_payments_count(app, household, resident, other_resident):
    accounts, _ = household
    last_month = limits.month_start() - timedelta(minutes=1)
    make_payment(resident, accounts[0], "succeeded", amount_kobo=5_000_00, made_by_id=other_resident.id,
                 created_at=last_month)
    make_payment(resident, accounts[0], "failed", amount_kobo=5_000_00, made_by_id=other_resident.id)
    make_payment(resident, accounts[0], "succeeded", amount_kobo=5_000_00)  # the owner's own
    make_payment(resident, accounts[0], "unknown", amount_kobo=1_000_00, fee_kobo=100_00, made_by_id=other_resident.id)
    assert limits.allowance(resident.id, other_resident.id).remaining_kobo == LIMIT - 1_100_00


def test_a_co_owner_has_no_limit(app, household, resident, other_resident):
    accounts, membership = household
    membership.role, membership.monthly_limit_kobo = "co_owner", None
    db.session.commit()
    made = two_payments_by_the_payer(resident, other_resident, accounts)
    payments.enqueue_many([(p.id, p.reference) for p in made])
    run_worker()
    assert [status for status, _ in outcome(made)] == ["succeeded", "succeeded"]


def test_a_removed_members_queued_payment_fails_before_any_debit(app, household, resident, other_resident):
    accounts, membership = household
    [made] = two_payments_by_the_payer(resident, other_resident, accounts[:1])
    membership.status = "removed"
    db.session.commit()
    payments.enqueue_many([(made.id, made.reference)])
    run_worker()
    [(status, reason)] = outcome([made])
    assert status == "failed" and reason == limits.NOT_A_MEMBER
    assert debits() == 0 and ledger.wallet_balance(resident.id) == 100_000_00


def test_two_concurrent_debits_on_postgres_take_only_what_the_limit_leaves(app, require_postgres, household,
                                                                          resident, other_resident):
    accounts, _ = household
    made = two_payments_by_the_payer(resident, other_resident, accounts)
    ids = [p.id for p in made]
    barrier, errors = threading.Barrier(2), []

    def debit(payment_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                lifecycle.debit(payment_id)  # its own session and connection: a real race for the lock
            except Exception as exc:  # asserted on below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=debit, args=(payment_id,)) for payment_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    statuses = sorted(status for status, _ in outcome(made))
    assert statuses == ["debited", "failed"]
    assert debits() == 1
    assert ledger.wallet_balance(resident.id) == 100_000_00 - sum(
        db.session.get(Payment, i).total_kobo for i in ids if db.session.get(Payment, i).status == "debited")
    assert ledger.check_invariants() == []


def test_a_payers_automation_pays_within_their_limit(app, household, resident, other_resident):
    from webapp.services.automations import sweep

    from ..factories_automations import make_automation

    accounts, _ = household
    make_payment(resident, accounts[0], "succeeded", amount_kobo=5_000_00, made_by_id=other_resident.id)
    now = utcnow()
    make_automation(resident, accounts[1], amount_kobo=5_000_00, made_by_id=other_resident.id,
                    first_run=(now - timedelta(minutes=5)).replace(second=0, microsecond=0))
    sweep.run_sweep(now)
    run_worker()
    paid = db.session.scalars(select(Payment).where(Payment.source == "automation")).one()
    assert paid.made_by_id == other_resident.id and paid.user_id == resident.id
    assert paid.status == "failed" and paid.status_reason.startswith(REACHED)
