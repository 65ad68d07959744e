"""Paystack customers and Dedicated Virtual Accounts: documented payloads in, what we send and read out.

Answers are Paystack's own examples: PaystackOSS/doc-code-snippets ``src/api/customers/create/
response.json``, ``src/api/dedicated-virtual-account/create/response.json`` and ``.../list/
response.json``; a transfer's authorization from ``src/doc/payments/dedicated-virtual-account/
event-snippet/index.json``. Request shapes: PaystackOSS/openapi ``src/assets/openapi/paths/
customer.yaml`` and ``paths/dedicated_account.yaml``.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.providers.conftest import PEER_CREDENTIALS
from webapp.providers import ProviderError
from webapp.providers.registry import funding_client

CUSTOMER_CREATED = {"status": True, "message": "Customer created", "data": {
    "email": "customer@email.com", "integration": 100032, "domain": "test", "customer_code": "CUS_xnxdt6s1zg1f4nx",
    "id": 1173, "identified": False, "identifications": None, "createdAt": "2016-03-29T20:03:09.584Z",
    "updatedAt": "2016-03-29T20:03:09.584Z"}}

NUBAN_CREATED = {"status": True, "message": "NUBAN successfully created", "data": {
    "bank": {"name": "Wema Bank", "id": 20, "slug": "wema-bank"}, "account_name": "KAROKART / RHODA CHURCH",
    "account_number": "9930000737", "assigned": True, "currency": "NGN", "metadata": None, "active": True, "id": 253,
    "created_at": "2019-12-12T12:39:04.000Z", "updated_at": "2020-01-06T15:51:24.000Z",
    "assignment": {"integration": 100043, "assignee_id": 7454289, "assignee_type": "Customer", "expired": False,
                   "account_type": "PAY-WITH-TRANSFER-RECURRING", "assigned_at": "2020-01-06T15:51:24.764Z"},
    "customer": {"id": 7454289, "first_name": "RHODA", "last_name": "CHURCH", "email": "rhodachurch@email.com",
                 "customer_code": "CUS_kpb3qj71u1m0rw8", "phone": "+2349053267565", "risk_action": "default"}}}

ACCOUNTS_LISTED = {"status": True, "message": "Managed accounts successfully retrieved", "data": [{
    "customer": {"id": 1530104, "first_name": "yinka", "last_name": "Ojo", "email": "hello@company.co",
                 "customer_code": "CUS_dy1r7ts03zixbq5", "phone": "08154239386", "risk_action": "default",
                 "international_format_phone": None},
    "bank": {"name": "Wema Bank", "id": 20, "slug": "wema-bank"}, "id": 173, "account_name": "KAROKART/A YINKA",
    "account_number": "9930020212", "created_at": "2019-12-09T13:31:38.000Z",
    "updated_at": "2020-06-11T14:04:28.000Z", "currency": "NGN",
    "split_config": {"subaccount": "ACCT_xdrne0tcvr5jkei"}, "active": True, "assigned": True}],
    "meta": {"total": 1, "skipped": 0, "perPage": 50, "page": 1, "pageCount": 1}}

TRANSFER_AUTHORIZATION = {
    "authorization_code": "AUTH_0ozsafcpdf", "bin": "413XXX", "last4": "X011", "exp_month": "01", "exp_year": "2020",
    "channel": "dedicated_nuban", "card_type": "transfer", "bank": "First City Monument Bank", "country_code": "NG",
    "brand": "Managed Account", "reusable": False, "signature": None, "sender_bank": "First City Monument Bank",
    "sender_bank_account_number": "XXXXXX0011", "sender_country": "NG", "sender_name": "RANDALL AKANBI HORTON",
    "narration": "NIP: RHODA CHURCH -1123344343/44343231232", "receiver_bank_account_number": "9930000902",
    "receiver_bank": "Wema Bank"}


@pytest.fixture
def paystack(peer_config):
    return funding_client("paystack", peer_config)


def test_create_customer_sends_the_documented_body_and_reads_its_code_and_id(peer, paystack):
    peer.reply(body=CUSTOMER_CREATED)
    customer = paystack.create_customer("customer@email.com", "Ada", "Okafor", "+2348031234567")
    assert (customer.code, customer.id) == ("CUS_xnxdt6s1zg1f4nx", "1173")
    [seen] = peer.requests
    assert (seen.method, seen.path) == ("POST", "/paystack/customer")
    assert seen.headers["Authorization"] == f"Bearer {PEER_CREDENTIALS['PAYSTACK_SECRET_KEY']}"
    assert seen.json() == {"email": "customer@email.com", "first_name": "Ada", "last_name": "Okafor",
                           "phone": "+2348031234567"}


def test_create_dedicated_account_sends_customer_and_preferred_bank_and_reads_the_account(peer, paystack):
    peer.reply(body=NUBAN_CREATED)
    account = paystack.create_dedicated_account("CUS_kpb3qj71u1m0rw8", "wema-bank")
    assert (account.account_number, account.account_name, account.bank_name, account.active,
            account.customer_code) == ("9930000737", "KAROKART / RHODA CHURCH", "Wema Bank", True,
                                       "CUS_kpb3qj71u1m0rw8")
    [seen] = peer.requests
    assert (seen.method, seen.path) == ("POST", "/paystack/dedicated_account")
    assert seen.json() == {"customer": "CUS_kpb3qj71u1m0rw8", "preferred_bank": "wema-bank"}


def test_listing_asks_by_customer_id_for_active_accounts_and_reads_them(peer, paystack):
    peer.reply(body=ACCOUNTS_LISTED)
    [account] = paystack.dedicated_accounts("1530104")
    assert (account.account_number, account.bank_name) == ("9930020212", "Wema Bank")
    url = urlsplit(peer.requests[0].path)
    assert (peer.requests[0].method, url.path) == ("GET", "/paystack/dedicated_account")
    assert parse_qs(url.query) == {"customer": ["1530104"], "active": ["true"]}


@pytest.mark.parametrize("answer", [
    {"status": False, "message": "Customer not found", "code": "customer_not_found"},
    {"status": True, "message": "NUBAN successfully created", "data": {"bank": {"name": "Wema Bank"}}},
])
def test_a_refused_or_incomplete_account_answer_is_an_error_not_an_account(peer, paystack, answer):
    peer.reply(status=400 if answer["status"] is False else 200, body=answer)
    with pytest.raises(ProviderError):
        paystack.create_dedicated_account("CUS_kpb3qj71u1m0rw8", "wema-bank")


def test_a_verified_transfer_reads_channel_and_customer_and_saves_no_card(peer, paystack):
    peer.reply(body={"status": True, "message": "Verification successful", "data": {
        "id": 3_100_000_001, "status": "success", "reference": "1000000230806102226164328345634", "amount": 250_000,
        "currency": "NGN", "fees": 3_750, "authorization": TRANSFER_AUTHORIZATION,
        "customer": {"id": 7454289, "customer_code": "CUS_kpb3qj71u1m0rw8", "email": "rhodachurch@email.com"}}})
    verification = paystack.verify("1000000230806102226164328345634")
    assert (verification.status, verification.amount_kobo, verification.channel, verification.customer_code) == (
        "success", 250_000, "dedicated_nuban", "CUS_kpb3qj71u1m0rw8")
    assert verification.saved_card is not None and verification.saved_card.reusable is False
