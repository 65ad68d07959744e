"""VTpass: documented payloads in, what we send and conclude out.

Sources are quoted per case; the facts they come from are collected in /tmp/provider_facts.md.
"""
from __future__ import annotations

import pytest

from tests.providers.conftest import Item
from webapp.providers import ErrorClass, PaymentErrorType, ProviderError, PurchaseKeys, utility_service

PREPAID = Item(provider_code="ikeja-electric", item_code="prepaid", meter_type="prepaid")
POSTPAID = Item(provider_code="ikeja-electric", item_code="postpaid", meter_type="postpaid")
METER = "1111111111111"
PHONE = "08011111111"
# The IKEDC sample's own requestId: a well-formed request_id (YYYYMMDDHHII + digits), so we send it as ours.
PAY_REQUEST_ID = "2025031013366434255"

# Official https://www.vtpass.com/documentation/ikedc-ikeja-electricity-distribution-company-payment-api/
# (full text from a VERBATIM-COPY of that page committed to GitHub by a third party, index id 14474102536).
IKEDC_PREPAID_ANSWER = {
    "code": "000",
    "content": {"transactions": {
        "status": "delivered", "product_name": "Ikeja Electric Payment - IKEDC", "unique_element": "1111111111111",
        "unit_price": "2000", "quantity": 1, "commission": 30, "total_amount": 1970, "type": "Electricity Bill",
        "amount": "2000", "platform": "api", "method": "api", "transactionId": "17416102247366731230557150"}},
    "response_description": "TRANSACTION SUCCESSFUL", "requestId": PAY_REQUEST_ID, "amount": 2000,
    "transaction_date": "2025-03-10T12:37:04.000000Z", "purchased_code": "Token : 26362054405982757802",
    "customerName": "N/A", "customerAddress": "N/A", "meterNumber": "N/A", "token": "Token : 26362054405982757802",
    "tokenAmount": 1860.47, "exchangeReference": "40532461", "resetToken": "N/A", "configureToken": "N/A",
    "units": "79.9 kWh", "tariff": "R2 SINGLE PHASE RESIDENTIAL", "taxAmount": 0, "debtAmount": 0,
    "kct1": "N/A", "kct2": "N/A",
}

# Official re-query page (vtpass.com/documentation, "Transaction status / requery"), delivered example.
REQUERY_REQUEST_ID = "2025031010146932932"
REQUERY_DELIVERED = {
    "response_description": "TRANSACTION SUCCESSFUL", "code": "000",
    "content": {"transactions": {
        "status": "delivered", "product_name": "MTN Airtime VTU", "unique_element": "08011111111", "unit_price": 20,
        "quantity": 1, "service_verification": None, "channel": "api", "commission": 1, "total_amount": 19.3,
        "discount": None, "type": "Airtime Recharge", "email": "sandbox@sandbox.vtpass.com",
        "phone": "123450987623", "name": None, "extras": None, "convinience_fee": 0, "amount": 20,
        "platform": "api", "method": "wallet", "transactionId": "17415980564672211596777904", "product_id": 2,
        "commission_details": {"amount": 1, "rate": "3.50", "rate_type": "percent",
                               "computation_type": "default"}}},
    "requestId": REQUERY_REQUEST_ID, "amount": 20, "transaction_date": "2025-03-10T09:14:16.000000Z",
    "purchased_code": "",
}


def _code_only(code: str, description: str) -> dict:
    # Codes and descriptions: official https://www.vtpass.com/documentation/response-codes/ (up to 026; the
    # rest from a VERBATIM-COPY of that page). VTpass publishes no full JSON body for these codes, so the
    # body is the minimal envelope its other samples share.
    return {"code": code, "response_description": description}


@pytest.fixture
def vtpass(peer_config):
    return utility_service("vtpass", peer_config)


# -- 8. pay request --------------------------------------------------------------------------------

def test_pay_request_has_the_documented_body_and_post_headers(peer, peer_config, vtpass):
    # Official https://www.vtpass.com/documentation/buying-services/ and the IKEDC page: POST /api/pay
    # {request_id, serviceID, billersCode, variation_code, amount (naira), phone}; POSTs carry
    # api-key + secret-key.
    peer.reply(200, IKEDC_PREPAID_ANSWER)
    vtpass.purchase_utility(PREPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    (seen,) = peer.requests
    assert (seen.method, seen.path) == ("POST", "/vtpass/api/pay")
    assert seen.json() == {"request_id": PAY_REQUEST_ID, "serviceID": "ikeja-electric", "billersCode": METER,
                           "variation_code": "prepaid", "amount": 2000, "phone": PHONE}
    headers = {name.lower(): value for name, value in seen.headers.items()}
    assert headers["api-key"] == peer_config["VTPASS_API_KEY"]
    assert headers["secret-key"] == peer_config["VTPASS_SECRET_KEY"]
    assert "public-key" not in headers


# -- 9./13. pay answers ----------------------------------------------------------------------------

def test_ikedc_prepaid_answer_gives_token_units_and_transaction_id(peer, vtpass):
    peer.reply(200, IKEDC_PREPAID_ANSWER)
    result = vtpass.purchase_utility(PREPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    assert (result.status, result.token, result.units) == ("succeeded", "26362054405982757802", "79.9 kWh")
    assert dict(result.refs) == {"transaction_id": "17416102247366731230557150"}
    assert (result.request_id, result.amount_kobo) == (PAY_REQUEST_ID, 200_000)


def test_postpaid_answer_with_empty_purchased_code_succeeds_without_token(peer, vtpass):
    # "Postpaid has purchased_code: ''" (IKEDC page, official; VERBATIM-COPY text). Adapted from the
    # prepaid sample above: no token fields, empty purchased_code.
    answer = {key: value for key, value in IKEDC_PREPAID_ANSWER.items()
              if key not in ("token", "units", "tokenAmount", "resetToken", "configureToken", "kct1", "kct2")}
    peer.reply(200, {**answer, "purchased_code": ""})
    result = vtpass.purchase_utility(POSTPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    assert (result.status, result.token) == ("succeeded", None)


# -- 10. requery delivered -------------------------------------------------------------------------

# The older version of the same official re-query page: top-level amount as a string and
# transaction_date as an object. Only those two fields are documented as different; the rest is reused.
REQUERY_OLDER = {**REQUERY_DELIVERED, "amount": "1000.00",
                 "content": {"transactions": {"status": "delivered", "transactionId": "17415980564672211596777904"}},
                 "transaction_date": {"date": "2020-04-08 15:22:15.000000", "timezone_type": 3,
                                      "timezone": "Africa/Lagos"}}


@pytest.mark.parametrize(("answer", "amount_kobo"), [(REQUERY_DELIVERED, 2_000), (REQUERY_OLDER, 100_000)],
                         ids=["current", "older-string-amount"])
def test_requery_delivered_samples_are_succeeded(peer, vtpass, answer, amount_kobo):
    # POST https://vtpass.com/api/requery {"request_id": ...} (official re-query page).
    peer.reply(200, answer)
    result = vtpass.query_status(REQUERY_REQUEST_ID)
    (seen,) = peer.requests
    assert (seen.method, seen.path, seen.json()) == ("POST", "/vtpass/api/requery",
                                                     {"request_id": REQUERY_REQUEST_ID})
    assert (result.status, result.amount_kobo) == ("succeeded", amount_kobo)
    assert dict(result.refs) == {"transaction_id": "17415980564672211596777904"}


# -- 11. requery not found and several request_ids ------------------------------------------------

INVALID_REQUEST_ID = _code_only("015", "INVALID REQUEST ID")  # "This RequestID was not used on our platform."
PROCESSING = _code_only("099", "TRANSACTION IS PROCESSING")
OLDER_ID, NEWER_ID = "202503091014ab12cd", "202503101014ab12cdR1"


def test_requery_015_is_not_found(peer, vtpass):
    peer.reply(200, INVALID_REQUEST_ID)
    assert vtpass.query_status(REQUERY_REQUEST_ID).status == "not_found"


def test_delivered_on_the_older_request_id_settles_a_purchase_sent_twice(peer, vtpass):
    peer.reply(200, INVALID_REQUEST_ID)  # newest first
    peer.reply(200, {**REQUERY_DELIVERED, "requestId": OLDER_ID})
    result = vtpass.query_status(PurchaseKeys(OLDER_ID, request_ids=(OLDER_ID, NEWER_ID)))
    assert [seen.json()["request_id"] for seen in peer.requests] == [NEWER_ID, OLDER_ID]
    assert (result.status, result.request_id) == ("succeeded", OLDER_ID)


@pytest.mark.parametrize("answers", [(PROCESSING, INVALID_REQUEST_ID), (INVALID_REQUEST_ID, PROCESSING)],
                         ids=["newest-pending", "older-pending"])
def test_pending_on_one_request_id_and_015_on_the_other_is_pending(peer, vtpass, answers):
    for answer in answers:
        peer.reply(200, answer)
    result = vtpass.query_status(PurchaseKeys(OLDER_ID, request_ids=(OLDER_ID, NEWER_ID)))
    assert result.status == "pending"


# -- 12. pay codes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "description", "error_type", "error_class"),
    [
        ("085", "IMPROPER REQUEST ID: DATE NOT TODAY'S DATE", PaymentErrorType.DUPLICATE_REFERENCE,
         ErrorClass.OUTCOME_UNKNOWN),
        ("091", "TRANSACTION NOT PROCESSED", PaymentErrorType.UTILITY_SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT),
        ("016", "TRANSACTION FAILED", PaymentErrorType.UTILITY_PROVIDER_ERROR, ErrorClass.PERMANENT),
        ("014", "REQUEST ID ALREADY EXIST", PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN),
    ],
)
def test_pay_refusal_codes_are_classified(peer, vtpass, code, description, error_type, error_class):
    peer.reply(200, _code_only(code, description))
    with pytest.raises(ProviderError) as caught:
        vtpass.purchase_utility(PREPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    assert (caught.value.error_type, caught.value.error_class) == (error_type, error_class)
    assert code in caught.value.detail


def test_pay_099_is_pending(peer, vtpass):
    # 099 "TRANSACTION IS PROCESSING": "requery using your requestID" (official response-codes page).
    peer.reply(200, PROCESSING)
    result = vtpass.purchase_utility(PREPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    assert (result.status, result.request_id) == ("pending", PAY_REQUEST_ID)


# -- merchant-verify: what a postpaid account owes -------------------------------------------------

# Official IKEDC page, "Verify Meter Number", EXPECTED RESPONSE (verbatim; the page shows a prepaid meter).
IKEDC_VERIFY_ANSWER = {
    "code": "000",
    "content": {
        "Customer_Name": "TESTMETER1", "Address": "ABULE EGBA BU ABULE", "Meter_Number": "68100017372",
        "Customer_Arrears": "", "Minimum_Amount": "", "Min_Purchase_Amount": "", "Can_Vend": "yes",
        "Business_Unit": "", "Customer_Account_Type": "PRIME", "Meter_Type": "PREPAID", "WrongBillersCode": False,
        "commission_details": {"amount": None, "rate": "1.50", "rate_type": "percent",
                               "computation_type": "default"},
    },
}


def test_documented_verify_answer_with_empty_arrears_says_nothing_about_what_is_owed(peer, vtpass):
    peer.reply(200, IKEDC_VERIFY_ANSWER)
    info = vtpass.validate_customer(PREPAID, METER)
    assert (info.name, info.meter_type, info.outstanding_kobo) == ("TESTMETER1", "prepaid", None)


def test_customer_arrears_is_what_a_postpaid_account_owes(peer, vtpass):
    content = {**IKEDC_VERIFY_ANSWER["content"], "Meter_Type": "POSTPAID", "Customer_Arrears": "12,500.00"}
    peer.reply(200, {**IKEDC_VERIFY_ANSWER, "content": content})
    assert vtpass.validate_customer(POSTPAID, "1010101010101").outstanding_kobo == 12_500_00


def test_an_undocumented_outstanding_field_is_not_read_as_a_debt(peer, vtpass):
    content = {**IKEDC_VERIFY_ANSWER["content"], "Meter_Type": "POSTPAID", "Outstanding": "12500.00"}
    peer.reply(200, {**IKEDC_VERIFY_ANSWER, "content": content})
    assert vtpass.validate_customer(POSTPAID, "1010101010101").outstanding_kobo is None


def test_ikedc_prepaid_answer_with_na_key_change_tokens_has_none(peer, vtpass):
    # The IKEDC sample answers "kct1": "N/A", "kct2": "N/A" for a meter that needs no key change.
    peer.reply(200, IKEDC_PREPAID_ANSWER)
    result = vtpass.purchase_utility(PREPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    assert result.key_change_tokens == ()


def test_ikedc_prepaid_answer_with_filled_key_change_tokens_gives_them_in_order(peer, vtpass):
    # Adapted from the IKEDC sample: the same two fields, filled in (the page shows no filled example).
    peer.reply(200, {**IKEDC_PREPAID_ANSWER, "kct1": "1234 5678 9012 3456 7890", "kct2": "09876543210987654321"})
    result = vtpass.purchase_utility(PREPAID, METER, 200_000, PAY_REQUEST_ID, phone=PHONE)
    assert result.key_change_tokens == ("12345678901234567890", "09876543210987654321")
    assert result.token == "26362054405982757802"
