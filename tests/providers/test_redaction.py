"""Secrets never reach logs, call records or error details."""
import logging

import pytest

from webapp.providers import ProviderError, utility_service
from webapp.providers.redact import Redactor

from .conftest import PEER_CREDENTIALS, Item


def test_credential_headers_are_masked_by_name():
    headers = Redactor().headers({"Authorization": "Bearer x", "api-key": "k", "secret-key": "s",
                                  "public-key": "p", "Accept": "application/json"})
    assert headers == {"Authorization": "***", "api-key": "***", "secret-key": "***", "public-key": "***",
                       "Accept": "application/json"}


def test_card_authorization_codes_and_card_tokens_are_masked():
    body = Redactor().body({"data": {"authorization": {"authorization_code": "AUTH_abc123xyz", "last4": "4081"},
                                     "card": {"token": "flw-t1-card"}}})
    assert body["data"]["authorization"] == {"authorization_code": "***", "last4": "4081"}
    assert body["data"]["card"] == {"token": "***"}


@pytest.mark.parametrize(("field", "value", "kept"), [
    ("token", "26362054764333554021", "***4021"),
    ("mainToken", 26362054764333554021, "***4021"),
    ("purchased_code", "Token : 2636 2054 7643 3355 4021", "Token : ***4021"),
    ("extra", "Token: 2636-2054-7643-3355-4021 Units: 32.5 kWh", "Token: ***4021 Units: 32.5 kWh"),
    ("recharge_token", None, None),
])
def test_electricity_tokens_keep_only_their_last_four_digits_in_call_records(field, value, kept):
    assert Redactor().body({"data": {field: value}}) == {"data": {field: kept}}


def test_an_electricity_token_nested_in_extras_is_masked_and_its_units_kept():
    body = Redactor().body({"content": {"transactions": {"extras": {"token": "1234 5678 9012 3456 7890",
                                                                   "units": "32.5"}}}})
    assert body["content"]["transactions"]["extras"] == {"token": "***7890", "units": "32.5"}


def test_configured_secret_values_are_removed_wherever_they_appear():
    redactor = Redactor(["my-very-secret-value"])
    assert redactor.text("echo: my-very-secret-value!") == "echo: ***!"
    assert redactor.body({"nested": ["x my-very-secret-value y"]}) == {"nested": ["x *** y"]}


def test_well_known_secret_shapes_are_removed_even_when_not_configured():
    text = Redactor().text("Bearer abc.def sk_live_123abc FLWSECK_TEST-9f8e AUTH_72btv547")
    assert "abc.def" not in text and "sk_live_123abc" not in text
    assert "FLWSECK_TEST-9f8e" not in text and "AUTH_72btv547" not in text


def test_customer_numbers_keep_only_their_last_four_digits():
    redactor = Redactor()
    assert redactor.body({"billersCode": "1111111111111"}) == {"billersCode": "***1111"}
    assert redactor.url("http://x/v?code=BIL1&customer=1111111111111") == "http://x/v?code=BIL1&customer=***1111"


OWN_SECRETS = {
    "flutterwave": ["FLUTTERWAVE_SECRET_KEY"],
    "vtpass": ["VTPASS_API_KEY", "VTPASS_PUBLIC_KEY", "VTPASS_SECRET_KEY"],
}


@pytest.mark.parametrize("provider", ["flutterwave", "vtpass"])
def test_secrets_are_absent_from_logs_and_errors_around_a_failing_call(peer, peer_config, caplog, provider):
    secrets = [PEER_CREDENTIALS[name] for name in OWN_SECRETS[provider]]
    # A misbehaving provider that echoes our credentials back inside a 500 page.
    echoed = " ".join(secrets)
    peer.always(500, f"<html>Internal error. Headers: Authorization: Bearer {echoed}</html>", content_type="text/html")
    calls = []
    service = utility_service(provider, peer_config, call_logger=calls.append)
    with caplog.at_level(logging.DEBUG, logger="webapp.providers"), pytest.raises(ProviderError) as caught:
        service.validate_customer(Item("ikeja-electric" if provider == "vtpass" else "BIL113", "prepaid"),
                                  "1111111111111")
    # The request really carried the secrets, so the test can fail.
    sent = peer.requests[0].headers
    assert any(secret in value for secret in secrets for value in sent.values())
    everything = " ".join([caplog.text, str(caught.value), repr(caught.value), str(caught.value.raw),
                           caught.value.detail, str(calls)])
    assert caplog.text  # something was logged
    for secret in secrets:
        assert secret not in everything
