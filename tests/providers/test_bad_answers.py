"""How every client classifies answers the sandbox never gives: a real local HTTP peer scripts them.

Rule under test: reads (catalogue, validation, status, verify) are never "outcome unknown"; a
purchase or card charge whose answer is missing or unclear is never "failed".
"""
import pytest

from webapp.providers import ErrorClass, PaymentErrorType, ProviderError, funding_client, utility_service
from webapp.providers.vtpass import reference_for

from .conftest import Item, provider_config

HTML = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
ITEMS = {"flutterwave": Item("BIL112", "UB157", "prepaid"), "vtpass": Item("ikeja-electric", "prepaid", "prepaid")}
BILLS = ["flutterwave", "vtpass"]


def purchase(config, provider):
    service = utility_service(provider, config)
    return service.purchase_utility(ITEMS[provider], "1111111111111", 500_000, reference_for())


def validate(config, provider):
    return utility_service(provider, config).validate_customer(ITEMS[provider], "1111111111111")


def error_of(call, *args) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call(*args)
    return caught.value


# -- purchases: unclear answers are outcome_unknown ------------------------------------------------

@pytest.mark.parametrize("provider", BILLS)
def test_html_instead_of_json_after_a_purchase_is_outcome_unknown(peer, peer_config, provider):
    peer.always(200, HTML, content_type="text/html")
    error = error_of(purchase, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN)
    assert "502 Bad Gateway" in error.raw


@pytest.mark.parametrize("provider", BILLS)
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_after_a_purchase_is_outcome_unknown(peer, peer_config, provider, status):
    peer.always(status, {"status": "error", "message": "Gateway timeout", "data": None})
    error = error_of(purchase, peer_config, provider)
    assert error.error_class is ErrorClass.OUTCOME_UNKNOWN
    assert error.http_status == status


@pytest.mark.parametrize("provider", BILLS)
def test_read_timeout_after_a_purchase_is_outcome_unknown(peer, peer_config, provider):
    peer.always(200, {}, delay=1.0)  # read timeout is 0.3 s
    error = error_of(purchase, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.TIMEOUT_ERROR, ErrorClass.OUTCOME_UNKNOWN)


@pytest.mark.parametrize("provider", BILLS)
def test_connection_dropped_after_a_purchase_was_sent_is_outcome_unknown(peer, peer_config, provider):
    peer.always(drop=True)
    error = error_of(purchase, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.NETWORK_ERROR, ErrorClass.OUTCOME_UNKNOWN)
    assert len(peer.requests) == 1  # it really reached the provider


@pytest.mark.parametrize("provider", BILLS)
def test_connection_refused_before_sending_a_purchase_is_transient(closed_port, provider):
    config = provider_config(f"http://127.0.0.1:{closed_port}")
    error = error_of(purchase, config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.NETWORK_ERROR, ErrorClass.TRANSIENT)


@pytest.mark.parametrize("provider", BILLS)
def test_429_on_a_purchase_is_transient_rate_limited_with_retry_after(peer, peer_config, provider):
    peer.always(429, {"status": "error", "message": "Too many requests"}, headers={"Retry-After": "7"})
    error = error_of(purchase, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("flutterwave", {"status": "success", "message": "Bill payment successful"}),  # no data
        ("flutterwave", {"message": "ok", "data": {"tx_ref": "x"}}),  # no envelope status
        ("vtpass", {"response_description": "TRANSACTION SUCCESSFUL"}),  # no code
        ("vtpass", {"code": "777", "response_description": "SOMETHING NEW"}),  # a code nobody documented
    ],
)
def test_missing_fields_in_a_purchase_answer_are_outcome_unknown(peer, peer_config, provider, body):
    peer.always(200, body)
    assert error_of(purchase, peer_config, provider).error_class is ErrorClass.OUTCOME_UNKNOWN


@pytest.mark.parametrize("provider", BILLS)
def test_a_json_list_instead_of_an_object_is_malformed(peer, peer_config, provider):
    peer.always(200, [1, 2, 3])
    error = error_of(purchase, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN)


# -- reads: never outcome_unknown -------------------------------------------------------------------

@pytest.mark.parametrize("provider", BILLS)
@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        ({"status": 200, "body": HTML, "content_type": "text/html"}, PaymentErrorType.MALFORMED_RESPONSE),
        ({"status": 503, "body": {"status": "error", "message": "unavailable"}},
         PaymentErrorType.UTILITY_SERVICE_UNAVAILABLE),
        ({"status": 429, "body": {"status": "error", "message": "slow down"}}, PaymentErrorType.RATE_LIMITED),
        ({"status": 200, "body": {}, "delay": 1.0}, PaymentErrorType.TIMEOUT_ERROR),
        ({"drop": True}, PaymentErrorType.NETWORK_ERROR),
    ],
)
def test_bad_answers_to_validation_are_transient(peer, peer_config, provider, answer, error_type):
    peer.always(**answer)
    error = error_of(validate, peer_config, provider)
    assert (error.error_type, error.error_class) == (error_type, ErrorClass.TRANSIENT)


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("flutterwave", {"status": "success", "message": "ok", "data": {"response_code": "00"}}),  # no name
        ("vtpass", {"code": "000", "content": {"Address": "somewhere"}}),  # no Customer_Name
        ("vtpass", {"code": "000"}),  # no content
    ],
)
def test_validation_answer_missing_the_name_is_transient_malformed(peer, peer_config, provider, body):
    peer.always(200, body)
    error = error_of(validate, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.TRANSIENT)


@pytest.mark.parametrize("provider", BILLS)
def test_status_query_5xx_is_transient_not_unknown(peer, peer_config, provider):
    peer.always(503, {"status": "error", "message": "unavailable"})
    error = error_of(utility_service(provider, peer_config).query_status, reference_for())
    assert error.error_class is ErrorClass.TRANSIENT


@pytest.mark.parametrize("provider", BILLS)
def test_catalogue_html_is_transient(peer, peer_config, provider):
    peer.always(200, HTML, content_type="text/html")
    error = error_of(utility_service(provider, peer_config).get_utility_providers)
    assert error.error_class is ErrorClass.TRANSIENT


@pytest.mark.parametrize("provider", BILLS)
def test_refused_credentials_are_a_permanent_authentication_error(peer, peer_config, provider):
    peer.always(401, {"status": "error", "message": "Invalid authorization key"})
    error = error_of(validate, peer_config, provider)
    assert (error.error_type, error.error_class) == (PaymentErrorType.AUTHENTICATION_ERROR, ErrorClass.PERMANENT)


# -- funding -----------------------------------------------------------------------------------------

def test_paystack_charge_with_html_answer_is_outcome_unknown(peer, peer_config):
    peer.always(200, HTML, content_type="text/html")
    client = funding_client("paystack", peer_config)
    error = error_of(client.charge_authorization, "ada@example.com", 500_000, "AUTH_abcdef1234", "ref-1")
    assert error.error_class is ErrorClass.OUTCOME_UNKNOWN


def test_paystack_charge_success_without_data_is_outcome_unknown(peer, peer_config):
    peer.always(200, {"status": True, "message": "Charge attempted"})
    client = funding_client("paystack", peer_config)
    error = error_of(client.charge_authorization, "ada@example.com", 500_000, "AUTH_abcdef1234", "ref-1")
    assert (error.error_type, error.error_class) == (PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN)


def test_paystack_verify_without_status_is_transient_malformed(peer, peer_config):
    peer.always(200, {"status": True, "message": "Verification successful", "data": {"reference": "ref-1"}})
    error = error_of(funding_client("paystack", peer_config).verify, "ref-1")
    assert (error.error_type, error.error_class) == (PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.TRANSIENT)


def test_paystack_verify_for_another_reference_is_refused(peer, peer_config):
    peer.always(200, {"status": True, "data": {"reference": "someone-else", "status": "success", "amount": 100}})
    error = error_of(funding_client("paystack", peer_config).verify, "ref-1")
    assert error.error_type is PaymentErrorType.MALFORMED_RESPONSE


def test_paystack_429_with_rate_limited_code_is_transient(peer, peer_config):
    peer.always(429, {"status": False, "message": "Rate limit exceeded", "code": "rate_limited"})
    error = error_of(funding_client("paystack", peer_config).verify, "ref-1")
    assert (error.error_type, error.error_class) == (PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT)


def test_flutterwave_checkout_without_link_is_transient_malformed(peer, peer_config):
    peer.always(200, {"status": "success", "message": "Hosted Link", "data": {}})
    client = funding_client("flutterwave", peer_config)
    error = error_of(client.initialize, "ref-1", 500_000, "ada@example.com", "http://app.test/back")
    assert (error.error_type, error.error_class) == (PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.TRANSIENT)


def test_flutterwave_verify_for_another_tx_ref_is_refused(peer, peer_config):
    peer.always(200, {"status": "success", "data": {"tx_ref": "other", "status": "successful", "amount": 5000}})
    error = error_of(funding_client("flutterwave", peer_config).verify, "ref-1")
    assert error.error_type is PaymentErrorType.MALFORMED_RESPONSE
