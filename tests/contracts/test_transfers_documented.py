"""Paystack and Flutterwave transfers: the providers' own published examples through our parsing.

Each body is copied from the source named above it (trimmed only where marked). The ``peer``
server answers them over HTTP, so the clients parse exactly what the providers document, and
the requests they send are checked against the documented shapes.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.providers.conftest import PEER_CREDENTIALS
from webapp.providers import ErrorClass, PaymentErrorType, ProviderError
from webapp.providers.registry import transfer_client
from webapp.providers.transfers import ResolvedAccount

# -- Paystack -------------------------------------------------------------------------------------

# PaystackOSS/doc-code-snippets src/api/transfers/initiate/response.json ("200")
PAYSTACK_INITIATED = {"status": True, "message": "Transfer has been queued", "data": {
    "transfersessionid": [], "transfertrials": [], "domain": "test", "amount": 100000, "currency": "NGN",
    "reference": "acv_9ee55786-2323-4760-98e2-6380c9cb3f68", "source": "balance", "source_details": None,
    "reason": "Bonus for the week", "status": "success", "failures": None, "transfer_code": "TRF_v5tip3zx8nna9o78",
    "titan_code": None, "transferred_at": None, "id": 860703114, "integration": 463433, "request": 1068439313,
    "recipient": 56824902, "createdAt": "2025-08-04T10:32:40.000Z", "updatedAt": "2025-08-04T10:32:40.000Z"}}
# The same file's "400"
PAYSTACK_BAD_RECIPIENT = {"status": False, "message": "Recipient specified is invalid", "meta": {
    "nextStep": "Provide a valid recipient. Ensure you are passing the recipient code in the recipient param"},
    "type": "validation_error", "code": "invalid_transfer_recipient"}
# PaystackOSS/doc-code-snippets src/doc/transfers/single/initiate-transfer-otp/index.json
PAYSTACK_OTP = {"status": True, "message": "Transfer requires OTP to continue", "data": {
    "reference": "x8beye1xud", "integration": 463433, "domain": "test", "amount": 20000, "currency": "NGN",
    "source": "balance", "reason": "E choke", "recipient": 10751086, "status": "otp",
    "transfer_code": "TRF_1aqrqhoomp0rjro", "id": 56506855, "createdAt": "2021-04-07T12:41:57.763Z",
    "updatedAt": "2021-04-07T12:41:57.763Z"}}
# PaystackOSS/doc-code-snippets src/api/transfers/verify/response.json ("200", recipient trimmed to
# the fields we read) and its "404"
PAYSTACK_VERIFIED = {"status": True, "message": "Transfer retrieved", "data": {
    "amount": 100000, "createdAt": "2025-08-04T09:59:19.000Z", "currency": "NGN", "domain": "test",
    "failures": None, "id": 860670817, "integration": 463433, "reason": "Bonus for the week",
    "reference": "acv_9ee55786-2323-4760-98e2-6380c9cb3f67", "source": "balance", "source_details": None,
    "status": "success", "titan_code": None, "transfer_code": "TRF_8opchtrhtjlfz90n", "request": 1068403325,
    "transferred_at": None, "updatedAt": "2025-08-04T09:59:19.000Z",
    "recipient": {"recipient_code": "RCP_gd9vgag7n5lr5ix", "type": "nuban", "details": {
        "authorization_code": None, "account_number": "9876543210", "account_name": None, "bank_code": "044",
        "bank_name": "Access Bank"}},
    "session": {"provider": None, "id": None}, "fee_charged": 1000, "fees_breakdown": None,
    "gateway_response": None}}
PAYSTACK_NOT_FOUND = {"status": False, "message": "Transfer not found"}
# PaystackOSS/doc-code-snippets src/doc/transfers/single/verify-account/index.json
PAYSTACK_RESOLVED = {"status": True, "message": "Account number resolved",
                     "data": {"account_number": "0001234567", "account_name": "Doe Jane Loren", "bank_id": 9}}
# PaystackOSS/doc-code-snippets src/doc/transfers/recipients/transfer-recipient-bank/index.json
PAYSTACK_RECIPIENT = {"status": True, "message": "Transfer recipient created successfully", "data": {
    "active": True, "createdAt": "2020-05-13T13:59:07.741Z", "currency": "NGN", "domain": "test", "id": 6788170,
    "integration": 428626, "name": "John Doe", "recipient_code": "RCP_t0ya41mp35flk40", "type": "nuban",
    "updatedAt": "2020-05-13T13:59:07.741Z", "is_deleted": False, "details": {
        "authorization_code": None, "account_number": "0001234567", "account_name": None, "bank_code": "058",
        "bank_name": "Guaranty Trust Bank"}}}
# PaystackOSS/doc-code-snippets src/api/miscellaneous/bank/response.json (first two banks)
PAYSTACK_BANKS = {"status": True, "message": "Banks retrieved", "data": [
    {"name": "Abbey Mortgage Bank", "slug": "abbey-mortgage-bank", "code": "801", "longcode": "", "gateway": None,
     "pay_with_bank": False, "active": True, "is_deleted": False, "country": "Nigeria", "currency": "NGN",
     "type": "nuban", "id": 174, "createdAt": "2020-12-07T16:19:09.000Z", "updatedAt": "2020-12-07T16:19:19.000Z"},
    {"name": "Coronation Merchant Bank", "slug": "coronation-merchant-bank", "code": "559", "longcode": "",
     "gateway": None, "pay_with_bank": False, "active": True, "is_deleted": False, "country": "Nigeria",
     "currency": "NGN", "type": "nuban", "id": 173, "createdAt": "2020-11-24T10:25:07.000Z",
     "updatedAt": "2020-11-24T10:25:07.000Z"}],
    "meta": {"next": "YmFuazoxNjk=", "previous": None, "perPage": 5}}
# PaystackOSS/doc-code-snippets src/doc/payments/webhooks/events/transfer-failed.json (recipient trimmed)
PAYSTACK_TRANSFER_FAILED = {"event": "transfer.failed", "data": {
    "amount": 200000, "currency": "NGN", "domain": "test", "failures": None, "id": 69123462,
    "integration": {"id": 100043, "is_live": True, "business_name": "Paystack"}, "reason": "Enjoy",
    "reference": "1976435206", "source": "balance", "source_details": None, "status": "failed", "titan_code": None,
    "transfer_code": "TRF_chs98y5rykjb47w", "transferred_at": None, "session": {"provider": "nip",
                                                                              "id": "74849400998877667"},
    "created_at": "2021-04-12T15:30:15.000Z", "updated_at": "2021-04-12T15:41:21.000Z"}}
# .../events/transfer-reversed.json and transfer-successful.json: the fields that differ
PAYSTACK_TRANSFER_REVERSED = {"event": "transfer.reversed", "data": {
    **PAYSTACK_TRANSFER_FAILED["data"], "reference": "jvrjckwenm", "status": "reversed",
    "transfer_code": "TRF_js075pj9u07f34l", "amount": 10000}}
PAYSTACK_TRANSFER_SUCCESS = {"event": "transfer.success", "data": {
    **PAYSTACK_TRANSFER_FAILED["data"], "reference": "acv_9ee55786-2323-4760-98e2-6380c9cb3f68",
    "status": "success", "transfer_code": "TRF_v5tip3zx8nna9o78", "amount": 100000, "fee_charged": 0}}

ACCOUNT = ResolvedAccount(account_number="0001234567", bank_code="058", account_name="Doe Jane Loren")


@pytest.fixture
def paystack(peer_config):
    return transfer_client("paystack", peer_config)


def test_paystack_initiate_sends_the_documented_body_in_kobo(peer, paystack):
    # Body: doc-code-snippets src/doc/transfers/single/initiate-transfer/index.sh
    peer.reply(body=PAYSTACK_INITIATED)
    reference = "acv_9ee55786-2323-4760-98e2-6380c9cb3f68"
    result = paystack.initiate(reference, 100000, ACCOUNT, "RCP_gd9vgag7n5lr5ix", "Bonus for the week")
    [seen] = peer.requests
    assert (seen.method, seen.path) == ("POST", "/paystack/transfer")
    assert seen.json() == {"source": "balance", "amount": 100000, "recipient": "RCP_gd9vgag7n5lr5ix",
                           "reference": reference, "reason": "Bonus for the week", "currency": "NGN"}
    assert seen.headers["Authorization"] == f"Bearer {PEER_CREDENTIALS['PAYSTACK_SECRET_KEY']}"
    assert (result.status, result.provider_id, result.amount_kobo) == ("success", "TRF_v5tip3zx8nna9o78", 100000)


def test_paystack_otp_status_is_pending(peer, paystack):
    otp = copy.deepcopy(PAYSTACK_OTP)
    otp["data"]["reference"] = "payout_5_9f2c1a7b3e4d5c6a7b8c"  # the documented "x8beye1xud" is shorter than 16
    peer.reply(body=otp)
    result = paystack.initiate("payout_5_9f2c1a7b3e4d5c6a7b8c", 20000, ACCOUNT, "RCP_x", "E choke")
    assert (result.status, result.provider_id) == ("pending", "TRF_1aqrqhoomp0rjro")


def test_paystack_invalid_recipient_is_permanent(peer, paystack):
    peer.reply(400, PAYSTACK_BAD_RECIPIENT)
    with pytest.raises(ProviderError) as caught:
        paystack.initiate("payout_5_9f2c1a7b3e4d5c6a7b8c", 100000, ACCOUNT, "RCP_bad", "x")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "Recipient specified is invalid" in caught.value.message


def test_paystack_verify_reads_status_amount_and_fee_charged(peer, paystack):
    peer.reply(body=PAYSTACK_VERIFIED)
    result = paystack.verify("acv_9ee55786-2323-4760-98e2-6380c9cb3f67", "TRF_8opchtrhtjlfz90n")
    assert (result.status, result.amount_kobo, result.fee_kobo) == ("success", 100000, 1000)
    [seen] = peer.requests
    assert seen.path == "/paystack/transfer/verify/acv_9ee55786-2323-4760-98e2-6380c9cb3f67"
    assert "9876543210" not in json.dumps(result.raw)  # the account number is masked in what we keep


def test_paystack_verify_404_transfer_not_found_is_not_found(peer, paystack):
    peer.reply(404, PAYSTACK_NOT_FOUND)
    assert paystack.verify("acv_9ee55786-2323-4760-98e2-6380c9cb3f67").status == "not_found"


def test_paystack_verify_of_another_transfer_is_refused(peer, paystack):
    peer.reply(body=PAYSTACK_VERIFIED)
    with pytest.raises(ProviderError) as caught:
        paystack.verify("acv_9ee55786-2323-4760-98e2-6380c9cb3f67", "TRF_someone_else")
    assert caught.value.error_class is ErrorClass.TRANSIENT


def test_paystack_resolve_and_recipient_and_banks(peer, paystack):
    peer.reply(body=PAYSTACK_RESOLVED).reply(body=PAYSTACK_RECIPIENT, status=201).reply(body=PAYSTACK_BANKS)
    account = paystack.resolve_account("0001234567", "058")
    assert account.account_name == "Doe Jane Loren"
    assert paystack.create_recipient(account) == "RCP_t0ya41mp35flk40"
    assert [(b.code, b.name) for b in paystack.list_banks()] == [("801", "Abbey Mortgage Bank"),
                                                                 ("559", "Coronation Merchant Bank")]
    resolve, recipient, banks = peer.requests
    url = urlsplit(resolve.path)
    assert (url.path, parse_qs(url.query)) == ("/paystack/bank/resolve",
                                               {"account_number": ["0001234567"], "bank_code": ["058"]})
    assert recipient.json() == {"type": "nuban", "name": "Doe Jane Loren", "account_number": "0001234567",
                                "bank_code": "058", "currency": "NGN"}
    assert banks.path == "/paystack/bank?currency=NGN"


@pytest.mark.parametrize("body, event, status", [(PAYSTACK_TRANSFER_SUCCESS, "transfer.success", "success"),
                                                 (PAYSTACK_TRANSFER_FAILED, "transfer.failed", "failed"),
                                                 (PAYSTACK_TRANSFER_REVERSED, "transfer.reversed", "reversed")])
def test_paystack_documented_transfer_events_give_their_hint(paystack, body, event, status):
    hint = paystack.transfer_hint(body)
    assert (hint.reference, hint.event, hint.status, hint.provider_id) == (
        body["data"]["reference"], event, status, body["data"]["transfer_code"])


def test_paystack_signature_is_hmac_sha512_of_the_raw_body(paystack):
    raw = json.dumps(PAYSTACK_TRANSFER_SUCCESS).encode()
    signature = hmac.new(PEER_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode(), raw, hashlib.sha512).hexdigest()
    assert paystack.verify_webhook(raw, {"x-paystack-signature": signature}) is True
    assert paystack.verify_webhook(raw + b" ", {"x-paystack-signature": signature}) is False


# -- Flutterwave ----------------------------------------------------------------------------------

# Flutterwave/Node-v3 documentation/transfers.md, "Create a transfer" sample response
FLW_QUEUED = {"status": "success", "message": "Transfer Queued Successfully", "data": {
    "id": 396432, "account_number": "0690000040", "bank_code": "044", "full_name": "Alexis Sanchez",
    "created_at": "2023-03-11T01:14:21.000Z", "currency": "NGN", "debit_currency": "NGN", "amount": 5500,
    "fee": 26.875, "status": "NEW", "reference": "akhlm-pstmnpyt-rfxxgjlsioens007_PMCKDU_1", "meta": None,
    "narration": "Akhlm Pstmn Trnsfr xx007", "complete_message": "", "requires_approval": 0, "is_approved": 1,
    "bank_name": "ACCESS BANK NIGERIA"}}
# The same file, "Get all transfers" sample: a failed NGN transfer
FLW_FAILED = {"status": "success", "message": "Transfer fetched", "data": {
    "id": 395470, "account_number": "0690000031", "bank_code": "044", "full_name": "Forrest Green",
    "created_at": "2023-02-27T21:02:45.000Z", "currency": "NGN", "debit_currency": None, "amount": 100,
    "fee": 10.75, "status": "FAILED", "reference": "mk-6u54i-jp", "meta": None, "narration": None, "approver": None,
    "complete_message": "DISBURSE FAILED: wallet currently restricted. please contact administrator",
    "requires_approval": 0, "is_approved": 1, "bank_name": "ACCESS BANK NIGERIA"}}
# Flutterwave/Node-v3 documentation/misc.md, "Resolve account details" and documentation/banks.md
FLW_RESOLVED = {"status": "success", "message": "Account details fetched",
                "data": {"account_number": "0690000032", "account_name": "Pastor Bright"}}
FLW_BANKS = {"status": "success", "message": "Banks fetched successfully", "data": [
    {"id": 132, "code": "560", "name": "Page MFBank"}, {"id": 137, "code": "011", "name": "First Bank of Nigeria"}]}
# The v3 webhooks page, "Successful Transfers" sample (developer.flutterwave.com, webhooks)
FLW_TRANSFER_COMPLETED = {"event": "transfer.completed", "event.type": "Transfer", "data": {
    "id": 33286, "account_number": "0690000033", "bank_name": "ACCESS BANK NIGERIA", "bank_code": "044",
    "fullname": "Bale Gary", "created_at": "2020-04-14T16:39:17.000Z", "currency": "NGN", "debit_currency": "NGN",
    "amount": 30020, "fee": 26.875, "status": "SUCCESSFUL", "reference": "a0a827b1eca65311_PMCKDU_5", "meta": None,
    "narration": "lolololo", "approver": None, "complete_message": "Successful", "requires_approval": 0,
    "is_approved": 1}}

FLW_ACCOUNT = ResolvedAccount(account_number="0690000040", bank_code="044", account_name="Alexis Sanchez")


@pytest.fixture
def flutterwave(peer_config):
    return transfer_client("flutterwave", peer_config)


def test_flutterwave_initiate_sends_naira_and_reads_new_as_pending_with_its_fee(peer, flutterwave):
    # Body: Node-v3 documentation/transfers.md "Create a transfer" payload (ours adds the callback_url).
    peer.reply(body=FLW_QUEUED)
    reference = "akhlm-pstmnpyt-rfxxgjlsioens007_PMCKDU_1"
    result = flutterwave.initiate(reference, 5500_00, FLW_ACCOUNT, None, "Akhlm Pstmn Trnsfr xx007")
    [seen] = peer.requests
    assert (seen.method, seen.path) == ("POST", "/flutterwave/v3/transfers")
    body = seen.json()
    assert body == {"account_bank": "044", "account_number": "0690000040", "amount": 5500,
                    "narration": "Akhlm Pstmn Trnsfr xx007", "currency": "NGN", "reference": reference,
                    "debit_currency": "NGN",
                    "callback_url": "http://127.0.0.1:5000/webhooks/flutterwave/transfers"}
    assert type(body["amount"]) is int
    assert (result.status, result.provider_id, result.amount_kobo, result.fee_kobo) == ("pending", "396432",
                                                                                      5500_00, 2688)


def test_flutterwave_verify_asks_by_id_and_reads_the_failure_message(peer, flutterwave):
    peer.reply(body=FLW_FAILED)
    result = flutterwave.verify("mk-6u54i-jp", "395470")
    assert peer.requests[0].path == "/flutterwave/v3/transfers/395470"
    assert (result.status, result.amount_kobo, result.fee_kobo) == ("failed", 100_00, 1075)
    assert result.message == "DISBURSE FAILED: wallet currently restricted. please contact administrator"


def test_flutterwave_verify_of_another_reference_is_refused(peer, flutterwave):
    peer.reply(body=FLW_FAILED)
    with pytest.raises(ProviderError) as caught:
        flutterwave.verify("payout_5_9f2c1a7b3e4d5c6a7b8c", "395470")
    assert caught.value.error_class is ErrorClass.TRANSIENT


def test_flutterwave_verify_without_an_id_asks_nothing_and_is_transient(peer, flutterwave):
    with pytest.raises(ProviderError) as caught:
        flutterwave.verify("payout_5_9f2c1a7b3e4d5c6a7b8c")
    assert caught.value.error_class is ErrorClass.TRANSIENT and not peer.requests


def test_flutterwave_unknown_status_word_is_never_guessed(peer, flutterwave):
    odd = copy.deepcopy(FLW_QUEUED)
    odd["data"]["status"] = "SOMETHING_NEW"
    peer.reply(body=odd)
    with pytest.raises(ProviderError) as caught:
        flutterwave.initiate("akhlm-pstmnpyt-rfxxgjlsioens007_PMCKDU_1", 5500_00, FLW_ACCOUNT, None, "x")
    assert caught.value.error_class is ErrorClass.OUTCOME_UNKNOWN


def test_flutterwave_resolve_and_banks(peer, flutterwave):
    peer.reply(body=FLW_RESOLVED).reply(body=FLW_BANKS)
    assert flutterwave.resolve_account("0690000032", "044").account_name == "Pastor Bright"
    assert [(b.code, b.name) for b in flutterwave.list_banks()] == [("560", "Page MFBank"),
                                                                    ("011", "First Bank of Nigeria")]
    resolve, banks = peer.requests
    assert (resolve.path, resolve.json()) == ("/flutterwave/v3/accounts/resolve",
                                              {"account_number": "0690000032", "account_bank": "044"})
    assert banks.path == "/flutterwave/v3/banks/NG"


def test_flutterwave_documented_transfer_completed_gives_its_hint(flutterwave):
    hint = flutterwave.transfer_hint(FLW_TRANSFER_COMPLETED)
    assert (hint.reference, hint.event, hint.status, hint.provider_id) == (
        "a0a827b1eca65311_PMCKDU_5", "transfer.completed", "successful", "33286")


def test_flutterwave_verif_hash_must_equal_the_secret_hash(flutterwave):
    raw = json.dumps(FLW_TRANSFER_COMPLETED).encode()
    assert flutterwave.verify_webhook(raw, {"verif-hash": PEER_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}) is True
    assert flutterwave.verify_webhook(raw, {"verif-hash": "not-the-hash"}) is False
    assert flutterwave.verify_webhook(raw, {}) is False


def test_refusals_with_duplicate_words_are_unknown_outcomes(peer, paystack, flutterwave):
    # The words of Paystack's error list and our sandbox's reading of Flutterwave's.
    peer.reply(400, {"status": False, "message": "Duplicate Transfer Reference", "type": "validation_error",
                     "code": "duplicate_reference"})
    peer.reply(400, {"status": "error", "message": "Duplicate reference: a transfer with reference x already exists",
                     "data": None})
    for call in (lambda: paystack.initiate("payout_5_9f2c1a7b3e4d5c6a7b8c", 100, ACCOUNT, "RCP_x", "x"),
                 lambda: flutterwave.initiate("payout_5_9f2c1a7b3e4d5c6a7b8c", 100, FLW_ACCOUNT, None, "x")):
        with pytest.raises(ProviderError) as caught:
            call()
        assert (caught.value.error_type, caught.value.error_class) == (PaymentErrorType.DUPLICATE_REFERENCE,
                                                                       ErrorClass.OUTCOME_UNKNOWN)
