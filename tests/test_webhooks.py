"""Gateway webhooks: signed or refused, verified through the gateway API, processed once.

``paid_intent`` is a checkout the resident paid at the sandbox whose own webhook was lost, so each
test delivers the event itself.
"""
import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import FundingIntent, JournalEntry
from webapp.services import ledger

from .fixtures_funding import flutterwave_webhook, paystack_webhook

DEAD_URL = "http://127.0.0.1:9"


@pytest.fixture
def config_overrides(funding_config):
    return funding_config


@pytest.fixture
def paid_intent(resident, open_checkout, pay_checkout, webhooks_lost):
    intent = open_checkout(resident, 500_000)
    pay_checkout(intent)
    assert intent.status == "pending"
    return intent


@pytest.fixture
def paid_flutterwave_intent(resident, open_checkout, pay_checkout, webhooks_lost):
    intent = open_checkout(resident, 320_000, gateway="flutterwave")
    pay_checkout(intent)
    return intent


def post(client, gateway: str, body: bytes, headers: dict):
    return client.post(f"/webhooks/{gateway}", data=body, headers=headers)


def state(intent) -> tuple[str, int, int]:
    """(status, journal entries for the intent, wallet balance): what a webhook may change."""
    db.session.rollback()
    intent = db.session.get(FundingIntent, intent.id)
    entries = db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.reference == intent.reference))
    return intent.status, entries, ledger.wallet_balance(intent.user_id)


def test_valid_paystack_webhook_credits_the_wallet(client, paid_intent):
    response = post(client, "paystack", *paystack_webhook(paid_intent.reference))
    assert response.status_code == 200
    assert state(paid_intent) == ("credited", 1, 500_000)


def test_valid_flutterwave_webhook_credits_the_wallet(client, paid_flutterwave_intent):
    response = post(client, "flutterwave", *flutterwave_webhook(paid_flutterwave_intent.reference))
    assert response.status_code == 200
    assert state(paid_flutterwave_intent) == ("credited", 1, 320_000)


def test_same_event_replayed_five_times_credits_once(client, paid_intent):
    event = paystack_webhook(paid_intent.reference)
    assert [post(client, "paystack", *event).status_code for _ in range(5)] == [200] * 5
    assert state(paid_intent) == ("credited", 1, 500_000)
    assert ledger.check_invariants() == []


@pytest.mark.parametrize("gateway, headers", [
    ("paystack", {"x-paystack-signature": "0" * 128}),
    ("paystack", {"x-paystack-signature": ""}),
    ("paystack", {}),
    ("flutterwave", {"verif-hash": "not-the-hash"}),
    ("flutterwave", {}),
])
def test_bad_or_missing_signature_is_401_and_changes_nothing(client, paid_intent, gateway, headers):
    body, _ = paystack_webhook(paid_intent.reference)
    response = post(client, gateway, body, {"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    assert state(paid_intent) == ("pending", 0, 0)


def test_signature_over_another_body_is_401(client, paid_intent):
    _, headers = paystack_webhook(paid_intent.reference)
    tampered, _ = paystack_webhook(paid_intent.reference, amount=99_999_999)
    assert post(client, "paystack", tampered, headers).status_code == 401
    assert state(paid_intent) == ("pending", 0, 0)


def test_webhook_body_is_only_a_hint_the_gateway_api_decides(client, resident, open_checkout):
    unpaid = open_checkout(resident, 500_000)  # checkout opened, never paid
    response = post(client, "paystack", *paystack_webhook(unpaid.reference, amount=500_000, status="success"))
    assert response.status_code == 200
    assert state(unpaid) == ("pending", 0, 0)


def test_unknown_reference_is_acknowledged_and_ignored(client, resident):
    response = post(client, "paystack", *paystack_webhook("fund-000000000000000000000000"))
    assert response.status_code == 200 and response.json["outcome"] == "ignored"
    assert db.session.scalar(select(func.count(JournalEntry.id))) == 0


def test_event_for_another_gateways_intent_is_ignored(client, paid_flutterwave_intent):
    response = post(client, "paystack", *paystack_webhook(paid_flutterwave_intent.reference))
    assert response.json["outcome"] == "ignored"
    assert state(paid_flutterwave_intent) == ("pending", 0, 0)


def test_other_events_are_acknowledged_and_ignored(client, paid_intent):
    response = post(client, "paystack", *paystack_webhook(paid_intent.reference, event="transfer.success"))
    assert response.status_code == 200 and response.json["outcome"] == "ignored"
    assert state(paid_intent) == ("pending", 0, 0)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"event": "charge.success", "data": "x"}', b"\xff"])
def test_malformed_body_with_a_valid_signature_is_400(client, paid_intent, body):
    import hashlib
    import hmac

    from webapp.sandbox.keys import SANDBOX_CREDENTIALS

    signature = hmac.new(SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode(), body, hashlib.sha512).hexdigest()
    response = post(client, "paystack", body, {"x-paystack-signature": signature})
    assert response.status_code == 400
    assert state(paid_intent) == ("pending", 0, 0)


def test_oversized_body_is_refused(client, paid_intent):
    body, headers = paystack_webhook(paid_intent.reference, padding="x" * 70_000)
    assert post(client, "paystack", body, headers).status_code == 413
    assert state(paid_intent) == ("pending", 0, 0)


def test_gateway_unreachable_is_503_so_the_gateway_delivers_again(app, client, paid_intent):
    event = paystack_webhook(paid_intent.reference)
    real = app.config["PAYSTACK_BASE_URL"]
    app.config["PAYSTACK_BASE_URL"] = f"{DEAD_URL}/paystack"
    response = post(client, "paystack", *event)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert state(paid_intent) == ("pending", 0, 0)
    app.config["PAYSTACK_BASE_URL"] = real
    assert post(client, "paystack", *event).status_code == 200
    assert state(paid_intent) == ("credited", 1, 500_000)


def test_webhooks_are_rate_limited(app, client, paid_intent):
    app.config["WEBHOOK_RATE_LIMIT"] = "3 per minute"
    event = paystack_webhook(paid_intent.reference)
    codes = [post(client, "paystack", *event).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_webhooks_accept_post_only(client):
    assert client.get("/webhooks/paystack").status_code == 405
    assert client.post("/webhooks/vtpass-not-here").status_code == 404
