"""Every row of the sandbox's test numbers, paid through the real worker path (RQ + Redis + HTTP)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from webapp.models.base import utcnow
from webapp.providers.vtpass_codes import lagos_now
from webapp.services import ledger, payments

from .helpers import (
    PROVIDERS,
    entry_count,
    fund,
    link,
    pay,
    prepaid_entry,
    reload,
    run_worker,
    sync_catalogue,
)


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def janitor_until_final(sandbox):
    """Run janitor passes a day apart (every backoff step is due) until the payment is final.

    The sandbox's clock moves with ours, so VTpass sees each resend dated its own "today".
    """
    def run(payment, passes: int = 8, step: timedelta = timedelta(hours=25)):
        now, start = utcnow(), utcnow()
        for _ in range(passes):
            payment = reload(payment)
            if payment.is_final:
                return payment
            now += step
            sandbox.configure(clock_offset_seconds=(now - start).total_seconds())
            payments.run_janitor(now)
        return reload(payment)

    return run


def processed(sandbox, payment) -> int:
    """Purchases the sandbox processed for this payment, under any request_id it went out under."""
    from webapp.services.payments import references

    return sandbox.processed(payment.api_provider, references.request_ids(payment))


def assert_books_balanced():
    assert ledger.check_invariants() == []


# -- every test number: one table, one lifecycle --------------------------------------------------

OK, FAILED, UNKNOWN = "succeeded", "failed", "unknown"
RESEND_STEP = timedelta(minutes=10)  # 3000000000001's first status check is due after 1 min


def asked_twice(payment, api_provider):
    assert payment.status_checks == 2


def said_blocked(payment, api_provider):
    assert "blocked" in payment.status_reason.lower()


def resent_under_the_same_reference(payment, api_provider):
    reasons = [e.reason for e in payment.events]
    same_lagos_day = lagos_now(utcnow() + RESEND_STEP).date() == lagos_now(payment.created_at).date()
    if same_lagos_day or api_provider == "flutterwave":
        assert any("Resent under the same reference" in r for r in reasons)
    else:  # this test ran just before midnight in Lagos: VTpass needs a request_id dated today
        assert any("Resent under request_id" in r for r in reasons)


@dataclass(frozen=True)
class SandboxNumber:
    """A test customer number of the sandbox (README, PROVIDERS.md) and what the product makes of it."""

    behaviour: str
    number: str
    first: str                   # status once the worker has run
    final: str                   # status once the janitor is done (the same when ``first`` is final)
    sent: int | dict[str, int]   # purchase attempts, per provider where they differ
    token: bool                  # a 20-digit prepaid token (VTpass also gives the units bought)
    refunded: bool
    step: timedelta = timedelta(hours=25)  # between janitor passes
    also: Callable[..., None] | None = None  # what only this row says


SANDBOX_NUMBERS = [
    SandboxNumber("prepaid_meter_succeeds_with_token_and_units", "1111111111111", OK, OK, 1, True, False),
    SandboxNumber("postpaid_account_succeeds_without_token", "1010101010101", OK, OK, 1, False, False),
    SandboxNumber("pending_purchase_resolves_on_second_status_query", "2010000000000", UNKNOWN, OK, 1, True, False,
                  also=asked_twice),
    SandboxNumber("timeout_after_submission_is_unknown_not_failed_then_succeeds", "3000000000000", UNKNOWN, OK, 1,
                  True, False),
    SandboxNumber("timeout_with_no_record_is_resent_once_under_the_same_reference", "3000000000001", UNKNOWN, OK, 2,
                  True, False, step=RESEND_STEP, also=resent_under_the_same_reference),
    # A 503 after sending may have been processed, so it is unknown. VTpass: its 2nd and 3rd calls
    # are requeries (503), the 4th says 015, one resend. Flutterwave: without a tx_ref it looks in
    # the bill listing (which the script does not count), finds nothing, and each resend is one of
    # the script's calls: the 4th purchase goes through.
    SandboxNumber("three_503s_then_no_record_then_resend_succeeds", "4000000000000", UNKNOWN, OK,
                  {"vtpass": 2, "flutterwave": 4}, True, False),
    SandboxNumber("blocked_meter_fails_with_exactly_one_refund", "5000000000000", FAILED, FAILED, 1, False, True,
                  also=said_blocked),
    SandboxNumber("unknown_customer_fails_permanently_and_refunds", "9999999999999", FAILED, FAILED, 1, False, True),
    SandboxNumber("any_other_number_succeeds", "12345678901", OK, OK, 1, True, False),
]


@pytest.mark.parametrize("row", SANDBOX_NUMBERS, ids=lambda row: row.behaviour)
@pytest.mark.parametrize("api_provider", PROVIDERS)
def test_sandbox_number_through_the_worker_and_janitor(row, api_provider, funded, estate, janitor_until_final, sandbox):
    before = ledger.wallet_balance(funded.id)
    account = link(funded, prepaid_entry(estate.id, api_provider), row.number)
    payment = pay(funded, account)
    run_worker()
    assert reload(payment).status == row.first
    payment = janitor_until_final(payment, step=row.step)

    assert payment.status == row.final
    sent = row.sent[api_provider] if isinstance(row.sent, dict) else row.sent
    assert payment.purchase_attempts == sent
    # Whatever was sent and asked, the provider processed the purchase once, or not at all.
    assert processed(sandbox, payment) == (0 if row.final == FAILED else 1)
    if row.token:
        assert payment.token and len(payment.token) == 20 and payment.token.isdigit()
    else:
        assert payment.token is None
    # VTpass answers with the units bought; Flutterwave's documented pay answer carries no units
    # (recharge_token only: PHP-v3 src/Service/Bill.php, the published answer fields).
    assert bool(payment.units) == (row.token and api_provider == "vtpass")
    if row.also:
        row.also(payment, api_provider)

    assert entry_count(payment.reference, "debit") == 1
    assert entry_count(payment.reference, "refund") == (1 if row.refunded else 0)
    spent = 0 if row.refunded else payment.amount_kobo + payment.fee_kobo
    assert ledger.wallet_balance(funded.id) == before - spent
    payments.run_janitor(utcnow() + timedelta(days=2))  # a final payment is left alone: nothing refunded twice
    assert reload(payment).status == row.final
    assert entry_count(payment.reference, "refund") == (1 if row.refunded else 0)
    assert_books_balanced()


def test_payment_reference_is_the_job_id_and_a_valid_vtpass_request_id(funded, estate):
    from rq.job import Job

    from webapp.infra.redis_client import redis_connection
    from webapp.providers.vtpass_codes import is_valid_request_id

    account = link(funded, prepaid_entry(estate.id, "vtpass"), "1111111111111")
    payment = pay(funded, account)
    job = Job.fetch(payment.reference, connection=redis_connection())
    assert job.args == (payment.id,)
    assert is_valid_request_id(payment.reference)


def test_double_submit_creates_one_payment(funded, estate):
    account = link(funded, prepaid_entry(estate.id, "flutterwave"), "1111111111111")
    first = pay(funded, account, key="same-form")
    second = pay(funded, account, key="same-form")
    assert first.id == second.id


def test_insufficient_wallet_is_refused_before_anything_is_created(app, sandbox, estate, resident):
    from webapp.extensions import db
    from webapp.models import Payment

    sync_catalogue(estate.id)
    fund(resident, 1_000_00)
    account = link(resident, prepaid_entry(estate.id, "flutterwave"), "1111111111111")
    with pytest.raises(payments.PaymentRequestError, match="Fund your wallet"):
        pay(resident, account, amount_kobo=5_000_00)
    assert db.session.query(Payment).count() == 0


def test_wallet_emptied_between_confirm_and_debit_cancels_without_moving_money(funded, estate):
    account = link(funded, prepaid_entry(estate.id, "flutterwave"), "1111111111111")
    payment = pay(funded, account, amount_kobo=60_000_00)
    other = pay(funded, account, amount_kobo=60_000_00, key="second")  # both quoted against ₦100,000
    run_worker()
    statuses = sorted([reload(payment).status, reload(other).status])
    assert statuses == ["cancelled", "succeeded"]
    cancelled = payment if reload(payment).status == "cancelled" else other
    assert entry_count(cancelled.reference, "debit") == 0
    assert "Not enough money" in reload(cancelled).status_reason
    assert_books_balanced()
