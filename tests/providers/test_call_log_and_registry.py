"""Every HTTP call is reported once, redacted; the registry builds clients from config names only."""
import pytest

from webapp.providers import ProviderCall, ProviderConfigError, ProviderError, funding_client, utility_service
from webapp.providers.flutterwave import FlutterwaveFundingClient, FlutterwaveUtilityService
from webapp.providers.paystack import PaystackFundingClient
from webapp.providers.vtpass import VTpassUtilityService, reference_for

from .conftest import PEER_CREDENTIALS, Item


def test_each_call_is_reported_with_latency_status_and_redacted_bodies(peer, peer_config):
    calls: list[ProviderCall] = []
    peer.always(200, {"status": True, "data": {"authorization_url": "http://pay.test/x", "reference": "r-1"}})
    client = funding_client("paystack", peer_config, call_logger=calls.append)
    client.initialize("r-1", 500_000, "ada@example.com", "http://app.test/back")
    [call] = calls
    assert (call.provider, call.operation, call.method, call.http_status) == ("paystack", "initialize", "POST", 200)
    assert call.url.endswith("/paystack/transaction/initialize")
    assert call.latency_ms >= 0 and call.error is None
    assert call.request_body["amount"] == 500_000
    assert PEER_CREDENTIALS["PAYSTACK_SECRET_KEY"] not in repr(call)


def test_failed_calls_are_reported_with_their_error(peer, peer_config):
    calls: list[ProviderCall] = []
    peer.always(503, "<html>down</html>", content_type="text/html")
    service = utility_service("vtpass", peer_config, call_logger=calls.append)
    with pytest.raises(ProviderError):
        service.purchase_utility(Item("ikeja-electric", "prepaid"), "1111111111111", 500_000, reference_for())
    [call] = calls
    assert call.http_status == 503 and call.error.startswith("utility_service_unavailable/outcome_unknown")
    assert call.request_body["billersCode"] == "***1111"


def test_a_broken_call_logger_does_not_turn_an_answer_into_an_error(peer, peer_config):
    def broken(call):
        raise RuntimeError("log store down")

    peer.always(200, {"status": "success", "data": {"customer_reference": "r-1", "status": "successful"}})
    service = utility_service("flutterwave", peer_config, call_logger=broken)
    assert service.query_status("r-1", provider_reference="CF-FLYAPI-1").status == "succeeded"


def test_registry_builds_each_client_from_its_settings(peer_config):
    assert isinstance(utility_service("flutterwave", peer_config), FlutterwaveUtilityService)
    assert isinstance(utility_service("vtpass", peer_config), VTpassUtilityService)
    assert isinstance(funding_client("paystack", peer_config), PaystackFundingClient)
    assert isinstance(funding_client("flutterwave", peer_config), FlutterwaveFundingClient)


def test_registry_uses_the_configured_timeouts(peer_config):
    client = utility_service("vtpass", {**peer_config, "PROVIDER_CONNECT_TIMEOUT": 2, "PROVIDER_READ_TIMEOUT": 9})
    assert client.http.timeouts == (2.0, 9.0)


@pytest.mark.parametrize("key", ["paystack", "Flutterwave", "", "remita"])
def test_unknown_bills_provider_is_a_clear_error(peer_config, key):
    with pytest.raises(ProviderConfigError, match="unknown bills provider"):
        utility_service(key, peer_config)


def test_unknown_funding_gateway_is_a_clear_error(peer_config):
    with pytest.raises(ProviderConfigError, match="unknown funding gateway 'vtpass'"):
        funding_client("vtpass", peer_config)


@pytest.mark.parametrize("missing", ["VTPASS_SECRET_KEY", "VTPASS_BASE_URL", "PROVIDER_READ_TIMEOUT"])
def test_missing_setting_is_named(peer_config, missing):
    config = {k: v for k, v in peer_config.items() if k != missing}
    with pytest.raises(ProviderConfigError, match=missing):
        utility_service("vtpass", config)
