"""Contract: Paystack and Flutterwave funding clients against the sandbox's gateways and checkout.

The hosted checkout is driven over HTTP like a browser would (POST its form); the signed webhook
it sends goes to the ``peer`` HTTP server standing in for our app, so signatures are checked on the
exact bytes the gateway sent.
"""
import pytest
import requests

from webapp.providers import ErrorClass, PaymentErrorType, funding_client

from .contract import raises

AMOUNT = 25_000_00
DECLINED = 113_13  # the sandbox declines exactly ₦113.13
EMAIL = "ada@example.com"


@pytest.fixture(params=["paystack", "flutterwave"])
def gateway(request) -> str:
    return request.param


@pytest.fixture
def client(gateway, sandbox_config):
    return funding_client(gateway, sandbox_config)


@pytest.fixture
def funding_reference(reference) -> str:
    return f"fund-{reference}"


def checkout(session_url: str, action: str = "pay") -> requests.Response:
    """What the resident's browser does on the hosted page."""
    response = requests.post(session_url, data={"action": action}, allow_redirects=False, timeout=5)
    assert response.status_code in (200, 303)
    return response


def start(client, reference, peer, amount=AMOUNT):
    return client.initialize(reference, amount, EMAIL, f"{peer.url}/wallet/funded", customer_name="Ada Okafor",
                             phone="08030000000")


def test_initialize_returns_the_hosted_checkout_link(client, funding_reference, peer):
    session = start(client, funding_reference, peer)
    assert session.reference == funding_reference
    assert session.checkout_url.startswith("http")
    assert requests.get(session.checkout_url, timeout=5).status_code == 200


def test_unpaid_checkout_verifies_as_pending(client, funding_reference, peer):
    start(client, funding_reference, peer)
    assert client.verify(funding_reference).status == "pending"


def test_paid_checkout_verifies_as_success_with_amount_and_currency(client, funding_reference, peer):
    checkout(start(client, funding_reference, peer).checkout_url)
    result = client.verify(funding_reference)
    assert (result.status, result.amount_kobo, result.currency) == ("success", AMOUNT, "NGN")
    assert result.reference == funding_reference and result.gateway_transaction_id


def test_declined_amount_verifies_as_failed(client, funding_reference, peer):
    checkout(start(client, funding_reference, peer, amount=DECLINED).checkout_url)
    result = client.verify(funding_reference)
    assert (result.status, result.amount_kobo) == ("failed", DECLINED)


def test_cancelled_checkout_verifies_as_abandoned(client, funding_reference, peer):
    checkout(start(client, funding_reference, peer).checkout_url, action="cancel")
    assert client.verify(funding_reference).status == "abandoned"


def test_unknown_reference_verifies_as_not_found(client, funding_reference):
    assert client.verify(funding_reference).status == "not_found"


def test_kobo_amounts_survive_the_naira_round_trip(client, funding_reference, peer):
    checkout(start(client, funding_reference, peer, amount=1_234_56).checkout_url)
    assert client.verify(funding_reference).amount_kobo == 1_234_56


def sent_webhook(peer):
    [hook] = [r for r in peer.requests if r.path.startswith("/webhooks/")]
    return hook


def test_the_webhook_the_gateway_sends_is_accepted(client, funding_reference, peer):
    checkout(start(client, funding_reference, peer).checkout_url)
    hook = sent_webhook(peer)
    assert client.verify_webhook(hook.body, hook.headers) is True


def test_webhook_without_its_signature_header_is_refused(client, funding_reference, peer):
    checkout(start(client, funding_reference, peer).checkout_url)
    hook = sent_webhook(peer)
    unsigned = {k: v for k, v in hook.headers.items() if k.lower() not in ("x-paystack-signature", "verif-hash")}
    assert client.verify_webhook(hook.body, unsigned) is False


def test_paystack_webhook_with_a_changed_body_is_refused(sandbox_config, funding_reference, peer):
    client = funding_client("paystack", sandbox_config)
    checkout(start(client, funding_reference, peer).checkout_url)
    hook = sent_webhook(peer)
    assert client.verify_webhook(hook.body.replace(b'"success"', b'"failed"'), hook.headers) is False


def test_flutterwave_verif_hash_authenticates_the_sender_not_the_body(sandbox_config, funding_reference, peer):
    # Why the app must re-verify every webhook through the API before crediting.
    client = funding_client("flutterwave", sandbox_config)
    checkout(start(client, funding_reference, peer).checkout_url)
    hook = sent_webhook(peer)
    assert client.verify_webhook(hook.body.replace(b'"successful"', b'"failed"'), hook.headers) is True


def test_webhook_signed_with_another_secret_is_refused(gateway, sandbox_config, funding_reference, peer):
    checkout(start(funding_client(gateway, sandbox_config), funding_reference, peer).checkout_url)
    hook = sent_webhook(peer)
    other = {**sandbox_config, "PAYSTACK_SECRET_KEY": "sk_test_other", "FLUTTERWAVE_SECRET_HASH": "other-hash"}
    assert funding_client(gateway, other).verify_webhook(hook.body, hook.headers) is False


def test_flutterwave_verify_by_transaction_id(sandbox_config, funding_reference, peer):
    client = funding_client("flutterwave", sandbox_config)
    checkout(start(client, funding_reference, peer).checkout_url)
    by_reference = client.verify(funding_reference)
    by_id = client.verify_by_id(by_reference.gateway_transaction_id, funding_reference)
    assert (by_id.status, by_id.amount_kobo) == ("success", AMOUNT)


# -- Paystack saved cards ------------------------------------------------------------------------------

@pytest.fixture
def paystack(sandbox_config):
    return funding_client("paystack", sandbox_config)


@pytest.fixture
def saved_card(paystack, funding_reference, peer):
    checkout(start(paystack, funding_reference, peer).checkout_url)
    return paystack.verify(funding_reference).saved_card


def test_paid_paystack_checkout_leaves_a_reusable_saved_card(saved_card):
    assert saved_card.reusable is True
    assert saved_card.authorization_code.startswith("AUTH_")
    assert (saved_card.last4, saved_card.brand) == ("4081", "visa")
    assert saved_card.exp_month and saved_card.exp_year
    assert saved_card.authorization_code not in repr(saved_card)


def test_charging_the_saved_card_succeeds(paystack, saved_card, reference):
    result = paystack.charge_authorization(EMAIL, 7_500_00, saved_card.authorization_code, f"direct-{reference}")
    assert (result.status, result.amount_kobo, result.reference) == ("success", 7_500_00, f"direct-{reference}")
    assert paystack.verify(f"direct-{reference}").status == "success"


def test_charging_the_declined_amount_fails(paystack, saved_card, reference):
    result = paystack.charge_authorization(EMAIL, DECLINED, saved_card.authorization_code, f"direct-{reference}")
    assert result.status == "failed"


def test_charging_twice_under_one_reference_is_a_duplicate_to_verify(paystack, saved_card, reference):
    paystack.charge_authorization(EMAIL, 7_500_00, saved_card.authorization_code, f"direct-{reference}")
    error = raises(paystack.charge_authorization, EMAIL, 7_500_00, saved_card.authorization_code,
                   f"direct-{reference}")
    assert (error.error_type, error.error_class) == (PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN)


def test_unknown_authorization_code_is_refused_permanently(paystack, reference):
    error = raises(paystack.charge_authorization, EMAIL, 7_500_00, "AUTH_doesnotexist", f"direct-{reference}")
    assert error.error_class is ErrorClass.PERMANENT
    assert "AUTH_doesnotexist" not in str(error.raw) + error.detail + error.message


def test_paystack_duplicate_initialize_is_a_duplicate_reference(paystack, funding_reference, peer):
    start(paystack, funding_reference, peer)
    error = raises(start, paystack, funding_reference, peer)
    assert error.error_type is PaymentErrorType.DUPLICATE_REFERENCE


@pytest.mark.parametrize("bad", ["has space", "slash/inside", "emoji-₦", ""])
def test_paystack_reference_charset_is_checked_before_sending(paystack, peer, sandbox, bad):
    error = raises(start, paystack, bad, peer)
    assert (error.error_type, error.error_class) == (PaymentErrorType.VALIDATION_ERROR, ErrorClass.PERMANENT)
    assert sandbox.transactions()["funding"] in ([], {})


def test_rate_limited_gateway_is_transient(sandbox, paystack, funding_reference, peer):
    sandbox.configure(fault_rate=1.0, fault_kinds=["rate_limited"])
    error = raises(start, paystack, funding_reference, peer)
    assert (error.error_type, error.error_class) == (PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT)
