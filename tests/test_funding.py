"""Wallet funding: only a transaction the gateway API confirms credits the wallet, and exactly once.

Everything runs against the provider sandbox over HTTP. Paying a checkout means submitting the
sandbox's hosted checkout page; the sandbox then posts its signed webhook to the app (served on a
real port by ``live_server``) before sending the browser back to the return URL.
"""
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from sqlalchemy import func, select, text

import webapp.jobs
from webapp.extensions import db
from webapp.models import FundingIntent, JournalEntry, SavedCard
from webapp.models.payment import ProviderCallLog
from webapp.services import funding, ledger

from .conftest import csrf_token_from
from .factories import TEST_PASSWORD
from .fixtures_funding import paystack_webhook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEAD_URL = "http://127.0.0.1:9"  # the discard port: nothing answers


@pytest.fixture
def config_overrides(funding_config):
    return funding_config


def credits_for(intent) -> int:
    return db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.reference == intent.reference))


def reload(intent) -> FundingIntent:
    db.session.rollback()
    return db.session.get(FundingIntent, intent.id)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


# Starting a funding

def test_start_commits_a_pending_intent_and_opens_the_sandbox_checkout(resident, open_checkout, sandbox):
    intent = open_checkout(resident, 500_000)
    assert intent.status == "pending" and intent.amount_kobo == 500_000 and intent.currency == "NGN"
    assert re.fullmatch(r"fund-[0-9a-f]{24}", intent.reference)
    assert intent.checkout_url.startswith(f"{sandbox.url}/checkout/paystack/")
    assert timedelta(minutes=59) < intent.expires_at - intent.created_at <= timedelta(minutes=60)
    assert db.session.scalar(select(func.count(ProviderCallLog.id))) == 1  # the initialize call


def test_amount_outside_the_bounds_is_refused_before_anything_is_created(app, resident):
    for amount in (99, app.config["FUNDING_MAX_KOBO"] + 1):
        with pytest.raises(funding.FundingError):
            funding.start_funding(resident, amount, "paystack", "http://autopay.test/back")
    assert db.session.scalar(select(func.count(FundingIntent.id))) == 0


# Paying: the webhook, the return redirect, and both

def test_paid_paystack_checkout_credits_the_wallet_once(resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 500_000)
    pay_checkout(intent)
    intent = reload(intent)
    assert intent.status == "credited" and intent.credited_at is not None
    assert ledger.wallet_balance(resident.id) == 500_000
    assert credits_for(intent) == 1
    assert ledger.check_invariants() == []


def test_paid_flutterwave_checkout_credits_through_its_webhook(resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 250_050, gateway="flutterwave")
    pay_checkout(intent)
    assert reload(intent).status == "credited"
    assert ledger.wallet_balance(resident.id) == 250_050


def test_return_redirect_after_the_webhook_adds_nothing(auth, client, resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 500_000)
    back = pay_checkout(intent)
    auth.login("ada@example.com")
    response = client.get(path_of(back))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/wallet/fund/{intent.reference}")
    assert reload(intent).status == "credited"
    assert credits_for(intent) == 1 and ledger.wallet_balance(resident.id) == 500_000


def test_return_redirect_credits_when_the_webhook_never_arrives(auth, client, resident, open_checkout, pay_checkout,
                                                                 webhooks_lost):
    intent = open_checkout(resident, 500_000, gateway="flutterwave")
    back = pay_checkout(intent)
    assert reload(intent).status == "pending"
    auth.login("ada@example.com")
    client.get(path_of(back))
    assert reload(intent).status == "credited"
    assert ledger.wallet_balance(resident.id) == 500_000


def _login_on(live_url: str) -> requests.Session:
    browser = requests.Session()
    token = csrf_token_from(browser.get(f"{live_url}/auth/login", timeout=5).text)
    browser.post(f"{live_url}/auth/login", data={"email": "ada@example.com", "password": TEST_PASSWORD,
                                                 "csrf_token": token}, timeout=5)
    return browser


def test_return_redirect_and_webhooks_racing_credit_once(resident, open_checkout, pay_checkout, webhooks_lost,
                                                         live_server):
    intent = open_checkout(resident, 700_000)
    back = pay_checkout(intent)
    browsers = [_login_on(live_server) for _ in range(3)]
    body, headers = paystack_webhook(intent.reference)
    start = threading.Barrier(6)
    answers = []

    def webhook():
        start.wait()
        answers.append(requests.post(f"{live_server}/webhooks/paystack", data=body, headers=headers, timeout=20))

    def return_redirect(browser):
        start.wait()
        answers.append(browser.get(back, allow_redirects=False, timeout=20))

    threads = [threading.Thread(target=webhook) for _ in range(3)]
    threads += [threading.Thread(target=return_redirect, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 302, 302, 302]
    assert reload(intent).status == "credited"
    assert credits_for(intent) == 1
    assert ledger.wallet_balance(resident.id) == 700_000
    assert ledger.check_invariants() == []


# Outcomes that credit nothing

def test_declined_checkout_fails_and_credits_nothing(auth, client, resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 113_13)  # the sandbox declines exactly ₦113.13; Paystack sends no webhook
    back = pay_checkout(intent)
    auth.login("ada@example.com")
    client.get(path_of(back))
    intent = reload(intent)
    assert intent.status == "failed" and "declined" in intent.failure_reason
    assert credits_for(intent) == 0 and ledger.wallet_balance(resident.id) == 0


def test_declined_flutterwave_checkout_fails_through_its_webhook(resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 113_13, gateway="flutterwave")
    pay_checkout(intent)
    assert reload(intent).status == "failed"
    assert credits_for(intent) == 0


def test_cancelled_checkout_is_abandoned_and_credits_nothing(auth, client, resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 500_000)
    back = pay_checkout(intent, action="cancel")
    auth.login("ada@example.com")
    client.get(path_of(back))
    assert reload(intent).status == "abandoned"
    assert credits_for(intent) == 0


@pytest.mark.parametrize("field, value, words", [
    ("amount_kobo", 400_000, "gateway amount ₦5,000.00 differs from the ₦4,000.00 asked for"),
    ("currency", "USD", "gateway currency 'NGN' differs from USD"),
])
def test_gateway_record_that_differs_from_the_intent_is_flagged_not_credited(resident, open_checkout, pay_checkout,
                                                                             field, value, words):
    intent = open_checkout(resident, 500_000)
    setattr(intent, field, value)  # the sandbox keeps the real ₦5,000.00 NGN transaction
    db.session.commit()
    pay_checkout(intent)
    intent = reload(intent)
    assert intent.status == "flagged" and intent.flag_reason == words
    assert credits_for(intent) == 0 and ledger.wallet_balance(resident.id) == 0


def test_gateway_unreachable_changes_nothing_and_keeps_the_call_log(app, resident, open_checkout, pay_checkout,
                                                                   webhooks_lost):
    intent = open_checkout(resident, 500_000)
    pay_checkout(intent)
    calls_before = db.session.scalar(select(func.count(ProviderCallLog.id)))
    app.config["PAYSTACK_BASE_URL"] = f"{DEAD_URL}/paystack"
    with pytest.raises(funding.VerificationUnavailable):
        funding.confirm_funding(intent.reference, source="return")
    assert reload(intent).status == "pending" and credits_for(intent) == 0
    assert db.session.scalar(select(func.count(ProviderCallLog.id))) == calls_before + 1


# Saved cards

def test_paystack_funding_keeps_the_reusable_card_encrypted(resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, 500_000)
    pay_checkout(intent)
    card = db.session.scalars(select(SavedCard)).one()
    assert (card.user_id, card.gateway, card.last4, card.brand, card.exp_month, card.exp_year, card.reusable) == \
        (resident.id, "paystack", "4081", "visa", "12", "2030", True)
    assert card.authorization_code.startswith("AUTH_")
    stored = db.session.scalar(text("SELECT authorization_code FROM saved_cards"))
    assert "AUTH_" not in stored
    assert reload(intent).saved_card_id == card.id


def test_the_same_card_funding_twice_is_one_saved_card(resident, open_checkout, pay_checkout):
    for _ in range(2):
        pay_checkout(open_checkout(resident, 100_000))
    card = db.session.scalars(select(SavedCard)).one()
    last = db.session.scalars(select(FundingIntent).order_by(FundingIntent.id.desc())).first()
    assert last.saved_card_id == card.id


def test_flutterwave_funding_saves_no_card(resident, open_checkout, pay_checkout):
    pay_checkout(open_checkout(resident, 100_000, gateway="flutterwave"))
    assert db.session.scalar(select(func.count(SavedCard.id))) == 0


# Expiry

def test_unpaid_checkout_expires_after_its_lifetime(resident, open_checkout):
    with time_machine.travel(T0, tick=False):
        intent = open_checkout(resident, 500_000)
    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        assert funding.expire_abandoned() == 0
    assert reload(intent).status == "pending"
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert funding.expire_abandoned() == 1
    intent = reload(intent)
    assert intent.status == "expired" and "not completed in time" in intent.failure_reason
    assert credits_for(intent) == 0


def test_paid_checkout_whose_webhook_was_lost_is_credited_not_expired(resident, open_checkout, pay_checkout,
                                                                      webhooks_lost):
    with time_machine.travel(T0, tick=False):
        intent = open_checkout(resident, 500_000)
        pay_checkout(intent)
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert funding.expire_abandoned() == 0
    assert reload(intent).status == "credited"
    assert ledger.wallet_balance(resident.id) == 500_000


def test_expiry_leaves_intents_pending_while_the_gateway_is_unreachable(app, resident, open_checkout):
    with time_machine.travel(T0, tick=False):
        intent = open_checkout(resident, 500_000)
    app.config["PAYSTACK_BASE_URL"] = f"{DEAD_URL}/paystack"
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert funding.expire_abandoned() == 0
    assert reload(intent).status == "pending"


def test_a_late_success_still_credits_an_expired_intent(resident, open_checkout, pay_checkout):
    with time_machine.travel(T0, tick=False):
        intent = open_checkout(resident, 500_000)
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        funding.expire_abandoned()
    pay_checkout(intent)  # the resident kept the checkout tab open and paid after all
    assert reload(intent).status == "credited"
    assert ledger.wallet_balance(resident.id) == 500_000


def test_expiry_runs_as_a_scheduled_cron_job(app, resident, open_checkout, monkeypatch):
    from workers.funding_jobs import expire_abandoned_fundings
    from workers.schedule import PERIODIC_JOBS

    assert any(job.func is expire_abandoned_fundings for job in PERIODIC_JOBS)
    with time_machine.travel(T0, tick=False):
        intent = open_checkout(resident, 500_000)
    monkeypatch.setattr(webapp.jobs, "_app", app)  # the job runs against this test's app
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert expire_abandoned_fundings() == 1
    assert reload(intent).status == "expired"
