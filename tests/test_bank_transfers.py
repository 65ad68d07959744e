"""Funding by bank transfer into a resident's Paystack dedicated virtual account.

The account is assigned through the wallet page against the sandbox's ``/customer`` and
``/dedicated_account`` (Paystack's documented shapes); a transfer is made at the sandbox, whose
``charge.success`` (channel ``dedicated_nuban``, signed with ``x-paystack-signature``) either
reaches the live app over HTTP or, with ``deliver=False``, is posted by the test itself.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import FundingIntent, JournalEntry, VirtualAccount
from webapp.models.base import utcnow
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.services import funding, ledger, virtual_accounts

DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def config_overrides(funding_config):
    return funding_config


@pytest.fixture
def ada(resident):
    resident.phone = "+2348031234567"
    db.session.commit()
    return resident


@pytest.fixture
def ada_account(ada, sandbox):
    """Ada's active dedicated account, assigned at the sandbox."""
    return virtual_accounts.assign(ada)


def signed(data: dict, event: str = "charge.success") -> tuple[bytes, dict]:
    """A Paystack event body and its headers, signed as Paystack signs (hex HMAC-SHA512 of the raw body)."""
    body = json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()
    key = SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode()
    return body, {"Content-Type": "application/json",
                  "x-paystack-signature": hmac.new(key, body, hashlib.sha512).hexdigest()}


def sandbox_transfer(sandbox, account: VirtualAccount, amount_kobo: int) -> dict:
    """A transfer recorded at the sandbox whose webhook is not sent; returns its transaction JSON."""
    return sandbox.transfer(account.account_number, amount_kobo, deliver=False)["transaction"]


def post_webhook(client, body: bytes, headers: dict):
    return client.post("/webhooks/paystack", data=body, headers=headers)


def money_state(user_id: int, reference: str) -> tuple[str | None, int, int]:
    """(intent status, journal entries for the reference, wallet balance)."""
    db.session.rollback()
    intent = db.session.scalar(select(FundingIntent).where(FundingIntent.reference == reference))
    entries = db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.reference == reference))
    return (intent.status if intent else None), entries, ledger.wallet_balance(user_id)


def accounts_of(user_id: int) -> list[VirtualAccount]:
    db.session.rollback()
    return list(db.session.scalars(select(VirtualAccount).where(VirtualAccount.user_id == user_id)))


# Getting an account

def test_wallet_without_an_account_offers_to_get_one(as_resident, client, ada):
    html = client.get("/wallet/").get_data(as_text=True)
    assert "Fund by bank transfer" in html and "Get my account number" in html
    assert 'name="phone"' not in html  # Ada's phone is on file


def test_getting_an_account_twice_gives_one_account(as_resident, client, ada, sandbox):
    first = as_resident.post("/wallet/bank-account", page="/wallet/")
    second = as_resident.post("/wallet/bank-account", page="/wallet/")
    assert (first.status_code, second.status_code) == (303, 303)
    [account] = accounts_of(ada.id)
    assert account.active and account.bank_name == "Test Bank" and account.account_name == "PAYSTACK/Ada Okafor"
    assert account.customer_code.startswith("CUS_") and len(account.account_number) == 10
    assert len(sandbox.transactions()["dedicated_accounts"]) == 1
    html = client.get("/wallet/").get_data(as_text=True)
    assert account.account_number in html and f'data-copy="{account.account_number}"' in html
    assert "Test Bank" in html and "PAYSTACK/Ada Okafor" in html and "within a few minutes" in html
    assert "Get my account number" not in html


def test_resident_without_a_phone_is_asked_for_one_and_a_bad_one_keeps_what_was_typed(as_resident, client,
                                                                                      resident, sandbox):
    assert 'name="phone"' in client.get("/wallet/").get_data(as_text=True)
    response = as_resident.post("/wallet/bank-account", {"phone": "12ab"}, page="/wallet/")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a Nigerian phone number" in html and 'value="12ab"' in html
    assert accounts_of(resident.id) == [] and sandbox.transactions()["customers"] == []

    assert as_resident.post("/wallet/bank-account", {"phone": "0803 123 4567"}, page="/wallet/").status_code == 303
    [account] = accounts_of(resident.id)
    assert account.active and db.session.get(type(resident), resident.id).phone == "+2348031234567"


def test_paystack_down_shows_a_clear_message_and_a_retry_gets_the_account(app, as_resident, ada, sandbox):
    app.config["PAYSTACK_BASE_URL"] = f"{DEAD_URL}/paystack"
    response = as_resident.post("/wallet/bank-account", page="/wallet/")
    assert response.status_code == 503
    assert "could not get your account number" in response.get_data(as_text=True)
    [account] = accounts_of(ada.id)
    assert not account.active and account.account_number is None and account.assigning_since is None

    app.config["PAYSTACK_BASE_URL"] = sandbox.url + "/paystack"
    assert as_resident.post("/wallet/bank-account", page="/wallet/").status_code == 303
    [account] = accounts_of(ada.id)
    assert account.active and account.account_number


def test_an_account_whose_answer_was_lost_is_found_again_not_made_twice(ada, ada_account, sandbox):
    number = ada_account.account_number
    ada_account.active, ada_account.account_number = False, None  # as if the create's answer never came
    db.session.commit()
    again = virtual_accounts.assign(ada)
    assert again.active and again.account_number == number
    assert len(sandbox.transactions()["dedicated_accounts"]) == 1


def test_an_assignment_under_way_is_not_started_again(as_resident, ada, sandbox):
    db.session.add(VirtualAccount(user_id=ada.id, gateway="paystack", active=False, assigning_since=utcnow()))
    db.session.commit()
    response = as_resident.post("/wallet/bank-account", page="/wallet/")
    assert response.status_code == 503
    assert "already getting your account number" in response.get_data(as_text=True)
    assert sandbox.transactions()["customers"] == []


def test_an_assignment_whose_worker_vanished_is_taken_over_after_its_lease(ada, sandbox):
    db.session.add(VirtualAccount(user_id=ada.id, gateway="paystack", active=False,
                                  assigning_since=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    assert virtual_accounts.assign(ada).active
    assert len(accounts_of(ada.id)) == 1


def test_another_resident_cannot_see_your_account_or_your_transfers(auth, client, ada, ada_account, other_resident,
                                                                   sandbox):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    assert post_webhook(client, *signed(txn)).status_code == 200
    auth.login(other_resident.email)
    html = client.get("/wallet/").get_data(as_text=True)
    assert ada_account.account_number not in html and "Get my account number" in html
    assert client.get(f"/wallet/fund/{txn['reference']}").status_code == 404
    assert auth.post("/wallet/bank-account", {"phone": "08051234567"}, page="/wallet/").status_code == 303
    theirs = virtual_accounts.active_account(other_resident.id)
    assert theirs.account_number != ada_account.account_number
    assert ledger.wallet_balance(other_resident.id) == 0


# Transfers into the account

def test_a_genuine_transfer_webhook_replayed_five_times_credits_once(client, ada, ada_account, sandbox):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    event = signed(txn)
    assert [post_webhook(client, *event).status_code for _ in range(5)] == [200] * 5
    assert money_state(ada.id, txn["reference"]) == ("credited", 1, 250_000)
    assert ledger.check_invariants() == []
    intent = db.session.scalar(select(FundingIntent).where(FundingIntent.reference == txn["reference"]))
    assert intent.virtual_account_id == ada_account.id and intent.user_id == ada.id


def test_a_forged_webhook_is_401_and_changes_nothing(client, ada, ada_account, sandbox):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    body, headers = signed(txn)
    forged = {**headers, "x-paystack-signature": hmac.new(b"sk_test_guess", body, hashlib.sha512).hexdigest()}
    assert post_webhook(client, body, forged).status_code == 401
    assert money_state(ada.id, txn["reference"]) == (None, 0, 0)


def test_a_webhook_claiming_more_than_paystack_verifies_is_flagged_not_credited(client, ada, ada_account, sandbox):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    assert post_webhook(client, *signed({**txn, "amount": 5_000_000})).status_code == 200
    assert money_state(ada.id, txn["reference"]) == ("flagged", 0, 0)
    intent = db.session.scalar(select(FundingIntent).where(FundingIntent.reference == txn["reference"]))
    assert intent.flag_reason == "gateway amount ₦2,500.00 differs from the ₦50,000.00 the webhook claimed"
    # A later, honest delivery of the same transfer does not credit a flagged one behind the admins' back.
    assert post_webhook(client, *signed(txn)).status_code == 200
    assert money_state(ada.id, txn["reference"]) == ("flagged", 0, 0)


def test_a_webhook_naming_your_account_for_someone_elses_transfer_is_flagged(client, ada, ada_account,
                                                                            other_resident, sandbox):
    other_resident.phone = "+2348051234567"
    db.session.commit()
    theirs = virtual_accounts.assign(other_resident)
    txn = sandbox_transfer(sandbox, theirs, 250_000)
    claimed = {**txn, "customer": {**txn["customer"], "customer_code": ada_account.customer_code}}
    assert post_webhook(client, *signed(claimed)).status_code == 200
    assert money_state(ada.id, txn["reference"]) == ("flagged", 0, 0)
    assert ledger.wallet_balance(other_resident.id) == 0


def test_a_transfer_to_a_customer_we_do_not_know_is_ignored(client, ada, ada_account, sandbox):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    stranger = {**txn, "customer": {**txn["customer"], "customer_code": "CUS_somebodyelse0"}}
    response = post_webhook(client, *signed(stranger))
    assert response.status_code == 200 and response.json["outcome"] == "ignored"
    assert money_state(ada.id, txn["reference"]) == (None, 0, 0)


@pytest.mark.parametrize("field, value", [("amount", "lots"), ("amount", -100), ("reference", "ref with spaces")])
def test_a_signed_transfer_with_an_unusable_body_is_400_and_changes_nothing(client, ada, ada_account, sandbox,
                                                                          field, value):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    assert post_webhook(client, *signed({**txn, field: value})).status_code == 400
    assert db.session.scalar(select(func.count(FundingIntent.id))) == 0
    assert ledger.wallet_balance(ada.id) == 0


def test_paystack_unreachable_at_verify_asks_for_redelivery_then_credits(app, client, ada, ada_account, sandbox):
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    app.config["PAYSTACK_BASE_URL"] = f"{DEAD_URL}/paystack"
    assert post_webhook(client, *signed(txn)).status_code == 503
    assert money_state(ada.id, txn["reference"]) == ("pending", 0, 0)
    app.config["PAYSTACK_BASE_URL"] = sandbox.url + "/paystack"
    assert post_webhook(client, *signed(txn)).status_code == 200
    assert money_state(ada.id, txn["reference"]) == ("credited", 1, 250_000)


def test_a_transfer_paystack_could_not_confirm_is_credited_by_the_expiry_pass(app, client, ada, ada_account,
                                                                              sandbox):
    """Paystack never redelivers: the pass that closes stale intents asks Paystack again and credits."""
    txn = sandbox_transfer(sandbox, ada_account, 250_000)
    with time_machine.travel(T0, tick=False):
        app.config["PAYSTACK_BASE_URL"] = f"{DEAD_URL}/paystack"
        assert post_webhook(client, *signed(txn)).status_code == 503
    app.config["PAYSTACK_BASE_URL"] = sandbox.url + "/paystack"
    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        assert funding.expire_abandoned() == 0
        assert money_state(ada.id, txn["reference"]) == ("pending", 0, 0)
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert funding.expire_abandoned() == 0  # credited, not expired
    assert money_state(ada.id, txn["reference"]) == ("credited", 1, 250_000)


def test_sandbox_transfer_end_to_end_over_http(as_resident, client, ada, sandbox, live_server):
    """The account is got through the page; the sandbox posts its own signed webhook to the app
    over HTTP, and the app verifies through the sandbox's API before crediting."""
    assert as_resident.post("/wallet/bank-account", page="/wallet/").status_code == 303
    account = virtual_accounts.active_account(ada.id)
    sent = sandbox.transfer(account.account_number, 731_050, notify=live_server)
    assert sent["webhook"]["status_code"] == 200
    assert sent["transaction"]["channel"] == "dedicated_nuban"
    assert money_state(ada.id, sent["transaction"]["reference"]) == ("credited", 1, 731_050)
    html = client.get("/wallet/").get_data(as_text=True)
    assert "₦7,310.50" in html and "Bank transfer via Paystack" in html

    # The sandbox's own page (what the wallet links to under `make run`) does the same.
    link = virtual_accounts.sandbox_transfer_url(account, live_server)
    assert link and f'href="{link.replace("&", "&amp;")}"' in html
    page = requests.post(link.split("?")[0], data={"account_number": account.account_number, "amount": "1,000",
                                                   "notify": live_server}, timeout=10)
    assert page.status_code == 200 and "reached the app (HTTP 200)" in page.text
    db.session.rollback()
    assert ledger.wallet_balance(ada.id) == 831_050
    assert ledger.check_invariants() == []


def test_sandbox_webhook_that_claims_another_amount_is_flagged_end_to_end(ada, ada_account, sandbox, live_server):
    sent = sandbox.transfer(ada_account.account_number, 250_000, notify=live_server, claimed_amount_kobo=260_000)
    assert sent["webhook"]["status_code"] == 200
    assert money_state(ada.id, sent["transaction"]["reference"]) == ("flagged", 0, 0)


def test_residents_clicks_racing_each_other_ask_paystack_for_one_account(require_postgres, app, ada, sandbox):
    """Eight requests at once (PostgreSQL, READ COMMITTED): one asks Paystack, the others are told
    it is on its way or find it made; one row, one account at Paystack."""
    from .test_ledger_concurrency import THREADS, run_together

    sandbox.configure(latency=0.2)  # every Paystack call takes a while, so the requests overlap

    def click(_):
        user = db.session.get(type(ada), ada.id)
        try:
            return virtual_accounts.assign(user).account_number
        except virtual_accounts.AssignmentError as exc:
            return str(exc)

    results, errors, _ = run_together(app, click)
    assert errors == []
    [account] = accounts_of(ada.id)
    assert account.active
    assert results.count(account.account_number) >= 1
    assert set(results) <= {account.account_number, virtual_accounts.IN_PROGRESS}
    assert len(results) == THREADS
    assert len(sandbox.transactions()["dedicated_accounts"]) == 1 and len(sandbox.transactions()["customers"]) == 1
