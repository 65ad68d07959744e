"""Flutterwave refusals carry only a message: how each kind is read (local peer speaking Flutterwave)."""
import pytest

from webapp.providers import ErrorClass, PaymentErrorType, ProviderError, utility_service

from .conftest import Item

ITEM = Item("BIL112", "UB157", "prepaid")


@pytest.fixture
def flutterwave(peer_config):
    return utility_service("flutterwave", peer_config)


def refused(status, message):
    return {"status": status, "body": {"status": "error", "message": message, "data": None}}


@pytest.mark.parametrize(
    ("answer", "error_type", "error_class"),
    [
        (refused(409, "Duplicate reference: a bill payment with reference X already exists"),
         PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN),
        (refused(400, "Insufficient wallet balance to complete this bill payment"),
         PaymentErrorType.UTILITY_SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT),
        (refused(400, "Bill payment failed: Meter blocked"), PaymentErrorType.UTILITY_PROVIDER_ERROR,
         ErrorClass.PERMANENT),
        (refused(400, "Amount must be at least ₦500.00 for IKEDC Prepaid"), PaymentErrorType.AMOUNT_OUT_OF_RANGE,
         ErrorClass.PERMANENT),
        (refused(400, "Invalid customer id: customer not found"), PaymentErrorType.INVALID_CUSTOMER_ID,
         ErrorClass.PERMANENT),
        (refused(400, "Request timed out, please requery"), PaymentErrorType.OUTCOME_UNKNOWN,
         ErrorClass.OUTCOME_UNKNOWN),
        (refused(404, "Invalid biller code"), PaymentErrorType.VALIDATION_ERROR, ErrorClass.PERMANENT),
    ],
)
def test_purchase_refusals_are_classified_by_message(peer, flutterwave, answer, error_type, error_class):
    peer.always(**answer)
    with pytest.raises(ProviderError) as caught:
        flutterwave.purchase_utility(ITEM, "1111111111111", 500_000, "ref-1")
    assert (caught.value.error_type, caught.value.error_class) == (error_type, error_class)


def test_purchase_body_sends_whole_naira_our_reference_and_the_callback_url(peer, flutterwave):
    peer.always(200, {"status": "success", "message": "Bill payment successful",
                      "data": {"reference": "ref-1", "tx_ref": "CF-FLYAPI-1", "amount": 5000, "code": "200"}})
    result = flutterwave.purchase_utility(ITEM, "1111111111111", 500_000, "ref-1")
    sent = peer.requests[0]
    assert sent.path == "/flutterwave/v3/billers/BIL112/items/UB157/payment"
    assert sent.json() == {"country": "NG", "customer_id": "1111111111111", "amount": 5000, "reference": "ref-1",
                           "callback_url": "http://127.0.0.1:5000/webhooks/flutterwave/bills"}
    assert b'"amount":5000,' in sent.body  # an integer, as Flutterwave's OpenAPI types it
    assert sent.headers["Authorization"].startswith("Bearer ")
    assert (result.status, result.provider_reference) == ("succeeded", "CF-FLYAPI-1")
    assert result.refs == {"tx_ref": "CF-FLYAPI-1"}


def test_fractional_naira_are_refused_before_any_request(peer, flutterwave):
    with pytest.raises(ProviderError) as caught:
        flutterwave.purchase_utility(ITEM, "1111111111111", 500_050, "ref-1")
    assert (caught.value.error_type, caught.value.error_class) == (PaymentErrorType.AMOUNT_OUT_OF_RANGE,
                                                                   ErrorClass.PERMANENT)
    assert "whole naira" in caught.value.message
    assert peer.requests == []


def test_status_in_the_documented_shape_without_status_or_code_is_succeeded(peer, flutterwave):
    # Node-v3 documentation/billPayments.md: the status answer of a completed bill has neither.
    peer.always(200, {"status": "success", "message": "Bill status fetch successful",
                      "data": {"customer_reference": "ref-1", "tx_ref": "CF-FLYAPI-1", "amount": "500.0000"}})
    result = flutterwave.query_status("ref-1", provider_reference="CF-FLYAPI-1")
    assert (result.status, result.amount_kobo) == ("succeeded", 50_000)


def test_an_explicit_status_wins_over_the_documented_shape(peer, flutterwave):
    peer.always(200, {"status": "success", "data": {"tx_ref": "CF-FLYAPI-1", "status": "failed", "amount": "500"}})
    assert flutterwave.query_status("ref-1", provider_reference="CF-FLYAPI-1").status == "failed"


def test_status_reads_the_token_from_extra(peer, flutterwave):
    peer.always(200, {"status": "success", "data": {"customer_reference": "ref-1", "status": "successful",
                                                    "extra": "Token: 2636-2054-7643-3355-4021 Units: 3.2 kWh"}})
    result = flutterwave.query_status("ref-1")
    assert (result.token, result.units) == ("26362054764333554021", "3.2 kWh")


def test_status_for_another_reference_is_not_trusted(peer, flutterwave):
    peer.always(200, {"status": "success", "data": {"customer_reference": "ref-2", "status": "successful"}})
    with pytest.raises(ProviderError) as caught:
        flutterwave.query_status("ref-1")
    assert caught.value.error_class is ErrorClass.TRANSIENT


def test_status_asks_by_tx_ref_then_by_our_reference(peer, flutterwave):
    peer.reply(404, {"status": "error", "message": "Transaction not found", "data": None})
    peer.reply(200, {"status": "success", "data": {"tx_ref": "CF-FLYAPI-1", "status": "successful"}})
    result = flutterwave.query_status("ref-1", provider_reference="CF-FLYAPI-1")
    assert result.status == "succeeded"
    # tx_ref first (the documented key of the status path), then our own reference.
    assert [r.path.split("?")[0] for r in peer.requests] == ["/flutterwave/v3/bills/CF-FLYAPI-1",
                                                             "/flutterwave/v3/bills/ref-1"]


def test_references_cannot_escape_their_path_segment(peer, flutterwave):
    peer.always(404, {"status": "error", "message": "Transaction not found"})
    with pytest.raises(ProviderError):  # then the listing, which this peer refuses too
        flutterwave.query_status("../payments?x=1")
    assert peer.requests[0].path.startswith("/flutterwave/v3/bills/..%2Fpayments%3Fx%3D1?")
