"""Flutterwave Bills v3: documented payloads in, what we send and conclude out.

Sources are quoted per case; the facts they come from are collected in /tmp/provider_facts.md.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.providers.conftest import Item
from webapp.providers import ErrorClass, PaymentErrorType, ProviderError, PurchaseKeys, utility_service

ITEM = Item(provider_code="BIL112", item_code="UB157", meter_type="prepaid")
METER = "45067198783"
REFERENCE = "202503101336ab12cd34ef56ab78cd90"


@pytest.fixture
def flw(peer_config):
    return utility_service("flutterwave", peer_config)


def _pay_answer(**data) -> dict:
    # Shape: [3P] bajoski34/mcp-flutterwave @ 5d7244ef, src/client/specs/v3/bill-payment.yaml (response
    # data fields phone_number, amount, network, code, tx_ref, reference, batch_reference, recharge_token,
    # fee; no status). Not an official spec: Flutterwave publishes no literal example for this endpoint.
    return {"status": "success", "message": "Bill payment successful",
            "data": {"phone_number": "+2348012345678", "amount": 500, "network": "IKEDC", "code": "200",
                     "tx_ref": "CF-FLYAPI-20250310123704917323", "reference": REFERENCE, "batch_reference": None,
                     "recharge_token": None, "fee": 100, **data}}


def _split(seen):
    url = urlsplit(seen.path)
    return url.path, parse_qs(url.query)


# -- 1. pay request --------------------------------------------------------------------------------

def test_pay_request_has_the_documented_path_body_and_bearer_auth(peer, peer_config, flw):
    # Path and required fields: official Flutterwave/PHP-v3 SDK, src/Service/Bill.php
    # (country, customer_id, amount, reference; biller_code/item_code in the path). callback_url:
    # our webhook (optional per [3P] bajoski34/mcp-flutterwave bill-payment.yaml).
    peer.reply(200, _pay_answer())
    flw.purchase_utility(ITEM, METER, 50_000, REFERENCE)
    (seen,) = peer.requests
    assert (seen.method, seen.path) == ("POST", "/flutterwave/v3/billers/BIL112/items/UB157/payment")
    body = seen.json()
    assert body == {"country": "NG", "customer_id": METER, "amount": 500, "reference": REFERENCE,
                    "callback_url": "http://127.0.0.1:5000/webhooks/flutterwave/bills"}
    assert type(body["amount"]) is int  # whole naira, never 500.0
    assert seen.headers["Authorization"] == f"Bearer {peer_config['FLUTTERWAVE_SECRET_KEY']}"


def test_fractional_naira_is_refused_before_any_request(peer, flw):
    # We send whole naira only (webapp/providers/flutterwave.py docstring); Node-v3
    # services/schema/bill.js accepts any positive number, so this is our rule, not Flutterwave's.
    with pytest.raises(ProviderError) as caught:
        flw.purchase_utility(ITEM, METER, 50_050, REFERENCE)
    assert (caught.value.error_type, caught.value.error_class) == (PaymentErrorType.AMOUNT_OUT_OF_RANGE,
                                                                   ErrorClass.PERMANENT)
    assert peer.requests == []


# -- 2./3. pay answers -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("extra", "token", "refs"),
    [
        # [3P] mcp-flutterwave shape as published: recharge_token null (the token may come later).
        ({}, None, {"tx_ref": "CF-FLYAPI-20250310123704917323"}),
        # Same shape with a prepaid token in recharge_token ("Token for prepaid electricity meters").
        ({"recharge_token": "1234 5678 9012 3456 7890"}, "12345678901234567890",
         {"tx_ref": "CF-FLYAPI-20250310123704917323"}),
        # Same shape plus flw_ref, which the official answers also carry (Node-v3 billPayments.md).
        ({"flw_ref": "BPUSSD17416102247366731"}, None,
         {"tx_ref": "CF-FLYAPI-20250310123704917323", "flw_ref": "BPUSSD17416102247366731"}),
    ],
)
def test_pay_answer_without_status_is_succeeded_with_refs_and_token(peer, flw, extra, token, refs):
    peer.reply(200, _pay_answer(**extra))
    result = flw.purchase_utility(ITEM, METER, 50_000, REFERENCE)
    assert (result.status, result.token, dict(result.refs)) == ("succeeded", token, refs)
    assert result.amount_kobo == 50_000


def test_node_v3_legacy_pay_sample_keeps_both_refs(peer, flw):
    # Official Flutterwave/Node-v3 @ 537f9f44, documentation/billPayments.md (POST /v3/bills sample).
    peer.reply(200, {"status": "success", "message": "Bill payment successful",
                     "data": {"phone_number": "+23490803840303", "amount": 500, "network": "9MOBILE",
                              "flw_ref": "CF-FLYAPI-20200311081921359990", "tx_ref": "BPUSSD1583957963415840",
                              "reference": None}})
    result = flw.purchase_utility(ITEM, "+23490803840303", 50_000, REFERENCE)
    assert result.status == "succeeded"
    assert dict(result.refs) == {"tx_ref": "BPUSSD1583957963415840", "flw_ref": "CF-FLYAPI-20200311081921359990"}


# -- 4. status -------------------------------------------------------------------------------------

NODE_STATUS_SAMPLE = {
    # Official Flutterwave/Node-v3 @ 537f9f44, documentation/billPayments.md (Bills.fetch_status sample).
    "status": "success", "message": "Bill status fetch successful",
    "data": {"currency": "NGN", "customer_id": "2348109328188", "frequency": "One Time", "amount": "500.0000",
             "product": "AIRTIME", "product_name": "MTN", "commission": 0,
             "transaction_date": "2023-02-24T16:46:19.107Z", "country": "NG",
             "tx_ref": "CF-FLYAPI-20230224044619923826", "extra": None,
             "product_details": "FLY-API-NG-AIRTIME-MTN"},
}
GO_STUB_SAMPLE = {
    # [3P] NdoleStudio/flutterwave-go, internal/stubs/api_responses.go (verbose stub; third-party).
    "status": "success", "message": "Bill status fetch successful",
    "data": {"currency": "NGN", "customer_id": "+23490803840303", "frequency": "One Time", "amount": "500.0000",
             "product": "AIRTIME", "product_name": "9MOBILE", "commission": 10,
             "transaction_date": "2020-03-11T20:19:21.27Z", "country": "NG",
             "tx_ref": "CF-FLYAPI-20200311081921359990", "extra": None,
             "product_details": "FLY-API-NG-AIRTIME-9MOBILE", "status": "successful"},
}
# The Go stub with an explicit "failed" (no documented literal for bills: our own variation).
FAILED_SAMPLE = {**GO_STUB_SAMPLE, "data": {**GO_STUB_SAMPLE["data"], "status": "failed"}}


@pytest.mark.parametrize(
    ("answer", "status"),
    [(NODE_STATUS_SAMPLE, "succeeded"), (GO_STUB_SAMPLE, "succeeded"), (FAILED_SAMPLE, "failed")],
    ids=["node-v3-no-status", "3p-go-stub-successful", "explicit-failed"],
)
def test_status_by_tx_ref_reads_the_documented_answers(peer, flw, answer, status):
    # GET /v3/bills/{tx_ref}?verbose=1: developer.flutterwave.com/v3.0.0/reference/get-status-of-a-bill-payment
    # ("This is the tx_ref of the bill transaction"; verbose "return the status ... from the provider").
    tx_ref = answer["data"]["tx_ref"]
    peer.reply(200, answer)
    result = flw.query_status(PurchaseKeys(REFERENCE, refs={"tx_ref": tx_ref}))
    (seen,) = peer.requests
    assert (seen.method, _split(seen)) == ("GET", (f"/flutterwave/v3/bills/{tx_ref}", {"verbose": ["1"]}))
    assert (result.status, result.amount_kobo) == (status, 50_000)


# -- 5./6. nothing found ---------------------------------------------------------------------------

# Undocumented: no official body or HTTP status exists for an unknown bill reference
# (provider_facts.md section 5), so this is a plain error envelope with a 404 and a message that
# matches none of our "not found" words: the 404 alone must carry the meaning.
NOT_FOUND_ENVELOPE = {"status": "error", "message": "Invalid reference", "data": None}


def test_status_404_by_tx_ref_with_nothing_listed_is_unconfirmed_never_not_found(peer, flw):
    peer.reply(404, NOT_FOUND_ENVELOPE)  # by tx_ref
    peer.reply(404, NOT_FOUND_ENVELOPE)  # by our own reference
    peer.reply(200, {"status": "success", "message": "bills retrieval successful", "data": []})  # listing
    keys = PurchaseKeys(REFERENCE, refs={"tx_ref": "CF-FLYAPI-20230224044619923826"},
                        last_sent_at=datetime.now(UTC) - timedelta(days=1))  # well past the record lag
    assert flw.query_status(keys).status == "unconfirmed"
    assert [_split(s)[0] for s in peer.requests] == ["/flutterwave/v3/bills/CF-FLYAPI-20230224044619923826",
                                                     f"/flutterwave/v3/bills/{REFERENCE}", "/flutterwave/v3/bills"]


# Official Flutterwave/Node-v3 @ 537f9f44, documentation/billPayments.md (Bills.fetch_bills sample):
# a summary only, no per-bill rows.
NODE_LISTING_SAMPLE = {
    "status": "success", "message": "bills retrieval successful",
    "data": {"summary": [{"currency": "NGN", "sum_bills": 28766.76, "sum_commission": 138.28, "sum_dstv": 0,
                          "sum_airtime": 4550, "count_dstv": 0, "count_airtime": 10}],
             "total": 3, "total_pages": 0, "reference": None},
}


def test_summary_only_listing_leaves_a_bare_reference_unconfirmed(peer, flw):
    peer.reply(404, NOT_FOUND_ENVELOPE)  # status by our reference (undocumented shape, see above)
    peer.reply(200, NODE_LISTING_SAMPLE)
    keys = PurchaseKeys(REFERENCE, last_sent_at=datetime.now(UTC) - timedelta(days=1))
    assert flw.query_status(keys).status == "unconfirmed"
    path, query = _split(peer.requests[1])
    assert path == "/flutterwave/v3/bills" and {"from", "to"} <= query.keys()  # Node-v3 Bills.fetch_bills


def test_summary_only_listing_has_no_bills_to_list(peer, flw):
    peer.reply(200, NODE_LISTING_SAMPLE)
    today = datetime.now(UTC).date()
    assert flw.list_bills(today, today) is None


# -- 7. timeout answer -----------------------------------------------------------------------------

def test_documented_503_timeout_on_a_purchase_is_outcome_unknown(peer, flw):
    # Official https://developer.flutterwave.com/docs/error-timeouts: after ~28 s Flutterwave answers 503
    # with this body; for bills, "query the status of the transaction ... before retrying".
    peer.reply(503, {"status": "error", "message": "An error occurred. Please contact support", "data": None})
    with pytest.raises(ProviderError) as caught:
        flw.purchase_utility(ITEM, METER, 50_000, REFERENCE)
    assert caught.value.error_class is ErrorClass.OUTCOME_UNKNOWN
    assert caught.value.http_status == 503
    assert json.loads(peer.requests[0].body)["reference"] == REFERENCE


# -- validate: what a postpaid account owes --------------------------------------------------------

# Official developer.flutterwave.com/reference/validate-bill-service and Flutterwave/Node-v3
# documentation/billPayments.md "Validate bill service": the sample answer, which names no amount owed.
VALIDATE_ANSWER = {"status": "success", "message": "Item validated successfully",
                   "data": {"response_code": "00", "address": None, "response_message": "Successful",
                            "name": "Test DSTV Account", "biller_code": "BIL119", "customer": "0025401100",
                            "product_code": "CB141", "email": None, "fee": 0, "maximum": 0, "minimum": 0}}
POSTPAID_ITEM = Item(provider_code="BIL112", item_code="UB158", meter_type="postpaid")


def test_documented_validate_answer_says_nothing_about_what_is_owed(peer, flw):
    peer.reply(200, VALIDATE_ANSWER)
    assert flw.validate_customer(POSTPAID_ITEM, "1010101010101").outstanding_kobo is None


@pytest.mark.parametrize("field", ["balance", "amount", "amount_due", "arrears"])
def test_no_guessed_field_is_read_as_a_debt(peer, flw, field):
    # ``balance`` or ``amount`` may be anything (a wallet, a plan's price): only ``outstanding`` is a debt.
    peer.reply(200, {**VALIDATE_ANSWER, "data": {**VALIDATE_ANSWER["data"], field: "12500.00"}})
    assert flw.validate_customer(POSTPAID_ITEM, "1010101010101").outstanding_kobo is None


def test_an_outstanding_field_is_what_a_postpaid_account_owes(peer, flw):
    peer.reply(200, {**VALIDATE_ANSWER, "data": {**VALIDATE_ANSWER["data"], "outstanding": "12500.00"}})
    assert flw.validate_customer(POSTPAID_ITEM, "1010101010101").outstanding_kobo == 12_500_00
