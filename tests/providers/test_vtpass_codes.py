"""Every VTpass code PROVIDERS.md names, answered by a local peer speaking VTpass, and what it means."""
import pytest

from webapp.providers import ErrorClass, PaymentErrorType, ProviderError, utility_service
from webapp.providers.vtpass import reference_for

from .conftest import Item

ITEM = Item("ikeja-electric", "prepaid", "prepaid")


def pay_answer(reference, code, status=None, **extra):
    body = {"code": code, "response_description": "x", "requestId": reference, **extra}
    if status is not None:
        body["content"] = {"transactions": {"status": status, "transactionId": "17000000000000000001",
                                            "amount": 5000}}
    return body


@pytest.fixture
def vtpass(peer_config):
    return utility_service("vtpass", peer_config)


@pytest.fixture
def reference():
    return reference_for()


def buy(vtpass, reference):
    return vtpass.purchase_utility(ITEM, "1111111111111", 500_000, reference, phone="08030000000")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [("000", "delivered", "succeeded"), ("000", "initiated", "pending"), ("000", "pending", "pending"),
     ("000", "reversed", "failed"), ("000", "something-new", "pending"), ("000", None, "pending"),
     ("099", "pending", "pending"), ("040", "reversed", "failed")],
)
def test_processed_and_processing_codes_give_a_result(peer, vtpass, reference, code, status, expected):
    peer.always(200, pay_answer(reference, code, status))
    result = buy(vtpass, reference)
    assert result.status == expected
    assert result.reference == reference


@pytest.mark.parametrize(
    ("code", "error_type", "error_class"),
    [
        ("016", PaymentErrorType.UTILITY_PROVIDER_ERROR, ErrorClass.PERMANENT),
        ("018", PaymentErrorType.UTILITY_SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT),
        ("014", PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN),
        ("019", PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT),
        ("091", PaymentErrorType.UTILITY_SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT),
        ("013", PaymentErrorType.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT),
        ("017", PaymentErrorType.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT),
        ("085", PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN),  # dated another day: requery
        ("087", PaymentErrorType.AUTHENTICATION_ERROR, ErrorClass.PERMANENT),
        ("083", PaymentErrorType.UNKNOWN_ERROR, ErrorClass.OUTCOME_UNKNOWN),
    ],
)
def test_refusal_codes_on_pay_are_classified(peer, vtpass, reference, code, error_type, error_class):
    peer.always(200, pay_answer(reference, code))
    with pytest.raises(ProviderError) as caught:
        buy(vtpass, reference)
    assert (caught.value.error_type, caught.value.error_class) == (error_type, error_class)


def test_likely_duplicate_says_when_to_retry(peer, vtpass, reference):
    peer.always(200, pay_answer(reference, "019"))
    with pytest.raises(ProviderError) as caught:
        buy(vtpass, reference)
    assert caught.value.retry_after == 30.0


def test_delivered_purchase_carries_token_units_and_provider_reference(peer, vtpass, reference):
    peer.always(200, pay_answer(reference, "000", "delivered", purchased_code="Token : 2636 2054 7643 3355 4021",
                                units="24.3 kWh", amount="5000.00"))
    result = buy(vtpass, reference)
    assert (result.token, result.units) == ("26362054764333554021", "24.3 kWh")
    assert result.provider_reference == "17000000000000000001"
    assert result.amount_kobo == 500_000


def test_pay_request_follows_the_wire_format(peer, vtpass, reference):
    peer.always(200, pay_answer(reference, "000", "delivered"))
    buy(vtpass, reference)
    sent = peer.requests[0]
    assert (sent.method, sent.path) == ("POST", "/vtpass/api/pay")
    assert sent.json() == {"request_id": reference, "serviceID": "ikeja-electric", "billersCode": "1111111111111",
                           "variation_code": "prepaid", "amount": 5000, "phone": "08030000000"}
    assert {"api-key", "secret-key"} <= {name.lower() for name in sent.headers}
    assert "public-key" not in {name.lower() for name in sent.headers}


def test_kobo_amounts_go_out_as_exact_naira(peer, vtpass, reference):
    peer.always(200, pay_answer(reference, "000", "delivered"))
    vtpass.purchase_utility(ITEM, "1111111111111", 123_456, reference)
    assert b'"amount":1234.56' in peer.requests[0].body


def test_answer_for_another_request_id_is_not_trusted(peer, vtpass, reference):
    peer.always(200, pay_answer("202501010000someoneelse", "000", "delivered"))
    with pytest.raises(ProviderError) as caught:
        buy(vtpass, reference)
    assert caught.value.error_class is ErrorClass.OUTCOME_UNKNOWN


def test_a_reference_that_is_not_a_request_id_is_refused_before_sending(peer, vtpass):
    with pytest.raises(ProviderError) as caught:
        buy(vtpass, "pay-123")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert peer.requests == []


def test_requery_of_an_unknown_request_id_is_not_found(peer, vtpass, reference):
    peer.always(200, {"code": "015", "response_description": "INVALID REQUEST ID"})
    assert vtpass.query_status(reference).status == "not_found"


def test_requery_of_a_failed_transaction_is_failed_not_an_error(peer, vtpass, reference):
    peer.always(200, pay_answer(reference, "016", "failed"))
    assert vtpass.query_status(reference).status == "failed"


def test_requery_with_an_undocumented_code_is_transient(peer, vtpass, reference):
    peer.always(200, {"code": "777", "response_description": "?"})
    with pytest.raises(ProviderError) as caught:
        vtpass.query_status(reference)
    assert caught.value.error_class is ErrorClass.TRANSIENT


def test_wrong_billers_code_is_a_permanent_invalid_customer(peer, vtpass):
    peer.always(200, {"code": "000", "content": {"error": "This meter is not correct", "WrongBillersCode": True}})
    with pytest.raises(ProviderError) as caught:
        vtpass.validate_customer(ITEM, "9999999999999")
    assert (caught.value.error_type, caught.value.error_class) == (PaymentErrorType.INVALID_CUSTOMER_ID,
                                                                   ErrorClass.PERMANENT)
