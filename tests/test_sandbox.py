"""The provider sandbox at the wire level: raw HTTP, as a provider's real client would see it.

Every row of the test customer numbers table is checked on both bill providers; then VTpass's
request_id rule and codes, Paystack's reference rule, the hosted checkouts with their signed
webhooks, and the knobs (latency, seeded faults, webhook_base).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from webapp.infra.local_services import free_port
from webapp.providers.vtpass_codes import lagos_now
from webapp.sandbox.keys import SANDBOX_CREDENTIALS as KEYS
from webapp.sandbox.runner import start_for_devrun

from .waiting import wait_until

LAGOS = timezone(timedelta(hours=1))
FLW_AUTH = {"Authorization": f"Bearer {KEYS['FLUTTERWAVE_SECRET_KEY']}"}
PSK_AUTH = {"Authorization": f"Bearer {KEYS['PAYSTACK_SECRET_KEY']}"}
VT_GET = {"api-key": KEYS["VTPASS_API_KEY"], "public-key": KEYS["VTPASS_PUBLIC_KEY"]}
VT_POST = {"api-key": KEYS["VTPASS_API_KEY"], "secret-key": KEYS["VTPASS_SECRET_KEY"]}
QUICK = 0.5  # client read timeout for rows that time out (the sandbox holds for 2 s)


def lagos_stamp(shift: timedelta = timedelta()) -> str:
    return (datetime.now(LAGOS) + shift).strftime("%Y%m%d%H%M")


def naira_text(kobo: int) -> str:
    """Naira as exact text ("5000.00"); both bill providers take amounts as numbers or strings."""
    return f"{kobo // 100}.{kobo % 100:02d}"


def new_reference() -> str:
    """Valid for every provider: VTpass date prefix, then letters and digits."""
    return lagos_stamp() + uuid.uuid4().hex[:12]


class Flutterwave:
    """Ikeja Electric prepaid (BIL112/UB157) through the Flutterwave Bills wire format."""

    name = "flutterwave"

    def __init__(self, url: str):
        self.base = url + "/flutterwave/v3"

    def validate(self, number: str):
        return requests.get(f"{self.base}/bill-items/UB157/validate", params={"code": "BIL112", "customer": number},
                            headers=FLW_AUTH, timeout=5).json()

    def valid_name(self, number: str) -> str | None:
        body = self.validate(number)
        return body["data"]["name"] if body["status"] == "success" and body["data"]["response_code"] == "00" else None

    def buy(self, number: str, reference: str, amount_kobo: int = 5_000_00, timeout: float = 5):
        body = {"country": "NG", "customer_id": number, "amount": naira_text(amount_kobo), "reference": reference}
        return requests.post(f"{self.base}/billers/BIL112/items/UB157/payment", json=body, headers=FLW_AUTH,
                             timeout=timeout)

    def status(self, reference: str, timeout: float = 5):
        """GET /bills/{tx_ref}: the status path takes Flutterwave's tx_ref, so ours is looked up in
        the sandbox's records first (a real client learns it from the pay answer or the listing)."""
        bills = requests.get(self.base.removesuffix("/flutterwave/v3") + "/_sandbox/transactions", timeout=5).json()
        tx_ref = next((b["provider_ref"] for b in bills["bills"]
                       if b["provider"] == "flutterwave" and b["reference"] == reference), reference)
        return requests.get(f"{self.base}/bills/{tx_ref}", params={"verbose": 1}, headers=FLW_AUTH,
                            timeout=timeout)

    @staticmethod
    def outcome(response) -> str:
        """successful | pending | failed | not_found | unavailable | duplicate | rejected

        A completed bill carries no ``status`` (pay answer and status answer alike, as documented)."""
        if response.status_code in (503, 404, 409):
            return {503: "unavailable", 404: "not_found", 409: "duplicate"}[response.status_code]
        body = response.json()
        if body["status"] == "error":
            return "failed" if "failed" in body["message"] else "rejected"
        if "status" in body["data"]:
            return body["data"]["status"]
        return "pending" if "pending" in body["message"] else "successful"

    @staticmethod
    def token(response) -> str | None:
        data = response.json()["data"]
        text = data.get("recharge_token") or data.get("extra")
        return re.sub(r"\D", "", text) if text else None

    @staticmethod
    def units(response) -> str | None:
        return None  # neither documented answer carries units

    @staticmethod
    def outstanding_naira(validation: dict):
        return validation["data"].get("outstanding")


class VTpass:
    """Ikeja Electric prepaid (ikeja-electric/prepaid) through the VTpass wire format."""

    name = "vtpass"
    STATUSES = {"delivered": "successful", "pending": "pending", "failed": "failed"}

    def __init__(self, url: str):
        self.base = url + "/vtpass/api"

    def validate(self, number: str):
        body = {"billersCode": number, "serviceID": "ikeja-electric", "type": "prepaid"}
        return requests.post(f"{self.base}/merchant-verify", json=body, headers=VT_POST, timeout=5).json()

    def valid_name(self, number: str) -> str | None:
        content = self.validate(number)["content"]
        return None if content.get("WrongBillersCode") else content["Customer_Name"]

    def buy(self, number: str, reference: str, amount_kobo: int = 5_000_00, timeout: float = 5):
        body = {"request_id": reference, "serviceID": "ikeja-electric", "billersCode": number,
                "variation_code": "prepaid", "amount": naira_text(amount_kobo),
                "phone": "08031234567"}
        return requests.post(f"{self.base}/pay", json=body, headers=VT_POST, timeout=timeout)

    def status(self, reference: str, timeout: float = 5):
        return requests.post(f"{self.base}/requery", json={"request_id": reference}, headers=VT_POST, timeout=timeout)

    @classmethod
    def outcome(cls, response) -> str:
        if response.status_code == 503:
            return "unavailable"
        body = response.json()
        code = body["code"]
        if code in ("000", "099", "016") and "content" in body and "transactions" in body["content"]:
            return cls.STATUSES[body["content"]["transactions"]["status"]]
        return {"015": "not_found", "014": "duplicate"}.get(code, "rejected")

    @staticmethod
    def token(response) -> str | None:
        return response.json().get("mainToken")

    @staticmethod
    def units(response) -> str | None:
        return response.json().get("units")

    @staticmethod
    def outstanding_naira(validation: dict):
        return validation["content"].get("Customer_Arrears")  # the field VTpass documents


@pytest.fixture(params=[Flutterwave, VTpass], ids=["flutterwave", "vtpass"])
def bills(request, sandbox):
    return request.param(sandbox.url)


# -- the test customer numbers table, on both bill providers ---------------------------------------

def test_prepaid_meter_validates_as_ada_okafor(bills):
    assert bills.valid_name("1111111111111") == "Ada Okafor"


def test_prepaid_meter_purchase_succeeds_at_once_with_a_20_digit_token_and_units(bills):
    response = bills.buy("1111111111111", new_reference())
    assert bills.outcome(response) == "successful"
    token = bills.token(response)
    assert token.isdigit() and len(token) == 20
    if bills.name == "vtpass":  # Flutterwave's documented answers carry no units
        assert bills.units(response).endswith("kWh")


def test_the_token_is_also_given_as_grouped_text(sandbox):
    response = VTpass(sandbox.url).buy("1111111111111", new_reference()).json()
    assert response["purchased_code"] == "Token : " + " ".join(
        response["mainToken"][i:i + 4] for i in range(0, 20, 4))


def test_postpaid_account_validates_with_12500_naira_outstanding(bills):
    validation = bills.validate("1010101010101")
    assert Decimal(str(bills.outstanding_naira(validation))) == Decimal("12500")


def test_vtpass_reports_arrears_only_in_its_documented_field(sandbox):
    """VTpass's IKEDC "Verify Meter Number" example: ``Customer_Arrears`` is "" for a meter that
    owes nothing (tests/contracts/test_vtpass_documented.py quotes it); no other field says it."""
    vtpass = VTpass(sandbox.url)
    prepaid, postpaid = vtpass.validate("1111111111111")["content"], vtpass.validate("1010101010101")["content"]
    assert prepaid["Customer_Arrears"] == "" and Decimal(postpaid["Customer_Arrears"]) == Decimal("12500")
    assert "Outstanding" not in prepaid and "Outstanding" not in postpaid


def test_postpaid_account_purchase_succeeds_without_a_token(bills):
    response = bills.buy("1010101010101", new_reference())
    assert bills.outcome(response) == "successful"
    assert bills.token(response) is None


def test_pending_number_resolves_to_success_on_the_second_status_query(bills):
    reference = new_reference()
    assert bills.outcome(bills.buy("2010000000000", reference)) == "pending"
    assert bills.outcome(bills.status(reference)) == "pending"
    second = bills.status(reference)
    assert bills.outcome(second) == "successful"
    assert len(bills.token(second)) == 20


def test_timeout_number_gives_no_answer_but_the_purchase_was_processed(bills):
    reference = new_reference()
    with pytest.raises(requests.exceptions.ReadTimeout):
        bills.buy("3000000000000", reference, timeout=QUICK)
    assert bills.outcome(bills.status(reference)) == "successful"


def test_a_timeout_ends_with_the_connection_closed_and_no_http_answer(bills, sandbox):
    sandbox.configure(timeout_hold=0.3)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        bills.buy("3000000000000", new_reference(), timeout=5)
    assert not isinstance(caught.value, requests.exceptions.ReadTimeout)
    assert 0.3 <= time.monotonic() - started < 3


def test_no_record_timeout_number_is_not_found_then_a_resend_succeeds(bills):
    reference = new_reference()
    with pytest.raises(requests.exceptions.ReadTimeout):
        bills.buy("3000000000001", reference, timeout=QUICK)
    assert bills.outcome(bills.status(reference)) == "not_found"
    assert bills.outcome(bills.buy("3000000000001", reference)) == "successful"


def test_unavailable_number_answers_503_for_the_first_three_calls_then_behaves_normally(bills):
    reference = new_reference()
    assert bills.outcome(bills.buy("4000000000000", reference)) == "unavailable"
    if bills.name == "vtpass":
        assert bills.outcome(bills.status(reference)) == "unavailable"
        assert bills.outcome(bills.status(reference)) == "unavailable"
    else:  # Flutterwave's status path knows no key for a bill it never recorded: 404, not a script call
        for _ in range(2):
            assert bills.outcome(bills.status(reference)) == "not_found"
            assert bills.outcome(bills.buy("4000000000000", reference)) == "unavailable"
    assert bills.outcome(bills.status(reference)) == "not_found"
    assert bills.outcome(bills.buy("4000000000000", reference)) == "successful"


def test_blocked_meter_fails_permanently_and_says_why(bills):
    reference = new_reference()
    response = bills.buy("5000000000000", reference)
    assert bills.outcome(response) == "failed"
    assert "meter blocked" in response.text.lower()
    assert bills.outcome(bills.status(reference)) == "failed"


def test_unknown_customer_is_not_found_at_validation(bills):
    assert bills.valid_name("9999999999999") is None


@pytest.mark.parametrize("number", ["1234567890", "12345678901", "1234567890123"])
def test_any_other_10_to_13_digit_number_is_valid_with_a_stable_generated_name(bills, number):
    name = bills.valid_name(number)
    assert name and name == bills.valid_name(number)
    assert bills.outcome(bills.buy(number, new_reference())) == "successful"


@pytest.mark.parametrize("number", ["123456789", "12345678901234", "1234abc890"])
def test_anything_else_is_an_invalid_customer_number(bills, number):
    assert bills.valid_name(number) is None


@pytest.mark.parametrize("amount_kobo", [499_99, 500_000_01])
def test_amount_outside_the_item_bounds_is_rejected_and_nothing_is_recorded(bills, amount_kobo):
    reference = new_reference()
    assert bills.outcome(bills.buy("1111111111111", reference, amount_kobo=amount_kobo)) == "rejected"
    assert bills.outcome(bills.status(reference)) == "not_found"


def test_a_reused_reference_is_refused_as_a_duplicate(bills):
    reference = new_reference()
    assert bills.outcome(bills.buy("1111111111111", reference)) == "successful"
    assert bills.outcome(bills.buy("1111111111111", reference)) == "duplicate"


def test_outcomes_replay_identically_after_a_reset(bills, sandbox):
    reference = new_reference()
    first = bills.token(bills.buy("1111111111111", reference))
    sandbox.reset()
    assert bills.token(bills.buy("1111111111111", reference)) == first


# -- Flutterwave specifics ---------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer FLWSECK_TEST-wrong"}])
def test_flutterwave_refuses_missing_or_wrong_keys_with_its_error_envelope(sandbox, headers):
    response = requests.get(sandbox.url + "/flutterwave/v3/bill-categories", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "Invalid authorization key", "data": None}


@pytest.mark.parametrize("flag,label", [("power", "Meter Number"), ("cables", "Smart Card Number"),
                                        ("internet", "Account Number"), ("water", "Account Number")])
def test_flutterwave_category_filters_list_one_kind_of_bill(sandbox, flag, label):
    items = requests.get(sandbox.url + "/flutterwave/v3/bill-categories", params={flag: 1, "country": "NG"},
                         headers=FLW_AUTH, timeout=5).json()["data"]
    assert items and {i["label_name"] for i in items} == {label}


def test_flutterwave_three_step_catalogue_lists_the_same_items_as_the_flat_one(sandbox):
    base = sandbox.url + "/flutterwave/v3"

    def get(path, **params):
        return requests.get(base + path, params=params, headers=FLW_AUTH, timeout=5).json()["data"]

    flat = {i["item_code"] for i in get("/bill-categories", country="NG")}
    three_step = {item["item_code"] for category in get("/top-bill-categories", country="NG")
                  for biller in get(f"/bills/{category['code']}/billers", country="NG")
                  for item in get(f"/billers/{biller['biller_code']}/items")}
    assert flat == three_step
    assert get("/bill-categories", country="GH") == []


def test_flutterwave_fixed_plans_carry_their_price_and_flexible_items_their_bounds(sandbox):
    items = {i["item_code"]: i for i in requests.get(sandbox.url + "/flutterwave/v3/bill-categories",
                                                     headers=FLW_AUTH, timeout=5).json()["data"]}
    assert items["CB141"]["amount"] == 4400 and items["CB141"]["biller_name"] == "DSTV"
    assert (items["UB157"]["amount"], items["UB157"]["minimum"], items["UB157"]["maximum"]) == (0, 500, 500000)


def test_flutterwave_status_is_keyed_by_its_tx_ref_and_has_the_documented_shape(sandbox):
    fw, reference = Flutterwave(sandbox.url), new_reference()
    tx_ref = fw.buy("1111111111111", reference).json()["data"]["tx_ref"]
    by_ours = requests.get(f"{fw.base}/bills/{reference}", params={"verbose": 1}, headers=FLW_AUTH, timeout=5)
    assert by_ours.status_code == 404  # the path takes the tx_ref (Flutterwave's API reference)
    data = requests.get(f"{fw.base}/bills/{tx_ref}", params={"verbose": 1}, headers=FLW_AUTH, timeout=5).json()["data"]
    assert (data["customer_reference"], data["tx_ref"]) == (reference, tx_ref)
    assert "status" not in data and "code" not in data  # a completed bill, as Node-v3's sample shows it
    assert data["amount"] == "5000.0000" and data["extra"].startswith("Token : ")


def test_flutterwave_listing_finds_our_bills_by_customer_reference(sandbox):
    fw, reference = Flutterwave(sandbox.url), new_reference()
    fw.buy("1111111111111", reference)
    today = lagos_now().date().isoformat()
    body = requests.get(f"{fw.base}/bills", params={"from": today, "to": today}, headers=FLW_AUTH, timeout=5).json()
    assert body["data"]["summary"][0]["count_bills"] == 1
    [row] = body["data"]["transactions"]
    assert (row["customer_reference"], row["status"]) == (reference, "success")
    sandbox.configure(flw_listing_items=False)
    body = requests.get(f"{fw.base}/bills", params={"from": today, "to": today}, headers=FLW_AUTH, timeout=5).json()
    assert "transactions" not in body["data"] and body["data"]["total"] == 1


def test_flutterwave_older_bills_form_pays_too(sandbox):
    body = {"country": "NG", "customer": "1111111111111", "amount": 1000, "recurrence": "ONCE",
            "type": "IKEDC Prepaid", "reference": new_reference()}
    response = requests.post(sandbox.url + "/flutterwave/v3/bills", json=body, headers=FLW_AUTH, timeout=5)
    assert (response.json()["message"], response.json()["data"]["code"]) == ("Bill payment successful", "200")


# -- VTpass specifics --------------------------------------------------------------------------------

def test_vtpass_get_needs_the_public_key_and_post_the_secret_key(sandbox):
    base = sandbox.url + "/vtpass/api"
    wrong_get = requests.get(base + "/services", params={"identifier": "electricity-bill"}, headers=VT_POST, timeout=5)
    wrong_post = requests.post(base + "/requery", json={"request_id": "x"}, headers=VT_GET, timeout=5)
    assert (wrong_get.status_code, wrong_get.json()["code"]) == (401, "087")
    assert (wrong_post.status_code, wrong_post.json()["code"]) == (401, "087")


@pytest.mark.parametrize("request_id", [
    lagos_stamp(timedelta(days=-2)) + "abc123",  # stale date
    "abcdefghijkl0001",  # no date
    "202613011200abc1",  # month 13
    "20250101",  # too short
])
def test_vtpass_request_id_must_start_with_the_current_lagos_time(sandbox, request_id):
    response = VTpass(sandbox.url).buy("1111111111111", request_id).json()
    assert response["code"] == "085"


def test_vtpass_refuses_a_request_id_dated_yesterday_with_085(sandbox):
    response = VTpass(sandbox.url).buy("1111111111111", lagos_stamp(timedelta(days=-1)) + "abc123")
    assert response.json()["code"] == "085"
    assert "TODAY" in response.json()["content"]["errors"]


def test_vtpass_clock_knob_moves_the_sandboxs_today(sandbox):
    sandbox.configure(clock_offset_seconds=86400)
    vt = VTpass(sandbox.url)
    assert vt.buy("1111111111111", new_reference()).json()["code"] == "085"
    assert vt.buy("1111111111111", lagos_stamp(timedelta(days=1)) + "abc123").json()["code"] == "000"


def test_vtpass_request_id_window_can_be_widened_for_replays(sandbox):
    sandbox.configure(request_id_window_hours=None, request_id_today_only=False)
    response = VTpass(sandbox.url).buy("1111111111111", lagos_stamp(timedelta(days=-2)) + "abc123")
    assert response.json()["code"] == "000"


def test_vtpass_likely_duplicate_within_the_window_is_019(sandbox):
    sandbox.configure(duplicate_window=30)
    vt = VTpass(sandbox.url)
    assert vt.buy("1111111111111", new_reference()).json()["code"] == "000"
    assert vt.buy("1111111111111", new_reference()).json()["code"] == "019"


def test_vtpass_low_merchant_balance_is_018(sandbox):
    sandbox.configure(merchant_balance_kobo=1_000_00)
    assert VTpass(sandbox.url).buy("1111111111111", new_reference(), amount_kobo=5_000_00).json()["code"] == "018"


def test_vtpass_not_processed_is_091_and_leaves_no_record(sandbox):
    sandbox.configure(fault_rate=1.0, fault_kinds=["not_processed"])
    vt, reference = VTpass(sandbox.url), new_reference()
    assert vt.buy("1111111111111", reference).json()["code"] == "091"
    assert vt.outcome(vt.status(reference)) == "not_found"


def test_vtpass_amount_codes_say_below_minimum_and_above_maximum(sandbox):
    vt = VTpass(sandbox.url)
    assert vt.buy("1111111111111", new_reference(), amount_kobo=100_00).json()["code"] == "013"
    assert vt.buy("1111111111111", new_reference(), amount_kobo=600_000_00).json()["code"] == "017"


def test_vtpass_unknown_customer_is_reported_inside_a_000_answer(sandbox):
    content = VTpass(sandbox.url).validate("9999999999999")
    assert content["code"] == "000"
    assert content["content"]["WrongBillersCode"] is True and content["content"]["error"]


def test_vtpass_lists_cable_plans_with_fixed_prices(sandbox):
    content = requests.get(sandbox.url + "/vtpass/api/service-variations", params={"serviceID": "dstv"},
                           headers=VT_GET, timeout=5).json()["content"]
    padi = next(v for v in content["variations"] if v["variation_code"] == "dstv-padi")
    assert (padi["variation_amount"], padi["fixedPrice"]) == ("4400.00", "Yes")
    assert content["varations"] == content["variations"]  # VTpass's own spelling, too


# -- Paystack ----------------------------------------------------------------------------------------

def paystack_init(sandbox, reference: str, amount_kobo: int = 50_000_00, callback_url: str = "http://127.0.0.1:9/cb",
                  email: str = "ada@example.com"):
    body = {"email": email, "amount": amount_kobo, "reference": reference, "callback_url": callback_url}
    return requests.post(sandbox.url + "/paystack/transaction/initialize", json=body, headers=PSK_AUTH, timeout=5)


def paystack_verify(sandbox, reference: str) -> dict:
    return requests.get(f"{sandbox.url}/paystack/transaction/verify/{reference}", headers=PSK_AUTH, timeout=5).json()


def checkout(link: str, action: str = "pay"):
    return requests.post(link, data={"action": action}, allow_redirects=False, timeout=10)


def test_paystack_refuses_a_wrong_key(sandbox):
    response = requests.get(sandbox.url + "/paystack/transaction/verify/x", headers={"Authorization": "Bearer no"},
                            timeout=5)
    assert response.status_code == 401 and response.json()["status"] is False


@pytest.mark.parametrize("reference", ["has space", "slash/ref", "under_score", "hash#1"])
def test_paystack_reference_may_only_hold_letters_digits_dash_dot_equals(sandbox, reference):
    body = paystack_init(sandbox, reference).json()
    assert body["status"] is False and "reference" in body["message"].lower()


def test_paystack_reused_reference_is_a_duplicate_charge_request(sandbox):
    reference = "fund-" + uuid.uuid4().hex
    assert paystack_init(sandbox, reference).json()["status"] is True
    assert paystack_init(sandbox, reference).json()["message"] == "Duplicate charge request"


def test_paystack_unknown_reference_is_not_found(sandbox):
    response = requests.get(sandbox.url + "/paystack/transaction/verify/nope-1", headers=PSK_AUTH, timeout=5)
    assert response.status_code == 404 and response.json()["code"] == "transaction_not_found"


def test_paystack_rate_limit_is_429_rate_limited_when_the_fault_injector_says_so(sandbox):
    sandbox.configure(fault_rate=1.0, fault_kinds=["rate_limited"])
    response = paystack_init(sandbox, "fund-" + uuid.uuid4().hex)
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"


class WebhookListener:
    """A tiny local HTTP server that records every POST (path, headers, raw body)."""

    def __init__(self):
        self.received: list[tuple[str, dict, bytes]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        # shutdown() waits for the serving loop to notice: poll often so teardown is quick.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def listener():
    server = WebhookListener()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_paystack_checkout_pays_sends_a_signed_webhook_and_redirects_back(sandbox, listener):
    reference = "fund-" + uuid.uuid4().hex
    init = paystack_init(sandbox, reference, callback_url=listener.origin + "/wallet/return?gateway=paystack")
    link = init.json()["data"]["authorization_url"]
    assert "Pay" in requests.get(link, timeout=5).text

    response = checkout(link)

    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"{listener.origin}/wallet/return?gateway=paystack&trxref={reference}&reference={reference}")
    [(path, headers, raw)] = listener.received
    assert path == "/webhooks/paystack"
    expected = hmac.new(KEYS["PAYSTACK_SECRET_KEY"].encode(), raw, hashlib.sha512).hexdigest()
    assert hmac.compare_digest(headers["x-paystack-signature"], expected)
    event = json.loads(raw)
    assert (event["event"], event["data"]["reference"], event["data"]["amount"]) == (
        "charge.success", reference, 50_000_00)
    data = paystack_verify(sandbox, reference)["data"]
    assert data["status"] == "success"
    card = data["authorization"]
    assert card["reusable"] is True and card["authorization_code"].startswith("AUTH_")
    assert {"last4", "exp_month", "exp_year", "card_type", "brand"} <= set(card)


def test_paystack_checkout_of_113_13_naira_is_declined_without_a_webhook(sandbox, listener):
    reference = "fund-" + uuid.uuid4().hex
    link = paystack_init(sandbox, reference, amount_kobo=113_13, callback_url=listener.origin + "/cb")
    response = checkout(link.json()["data"]["authorization_url"])
    assert response.status_code == 303 and f"reference={reference}" in response.headers["Location"]
    assert paystack_verify(sandbox, reference)["data"]["status"] == "failed"
    assert listener.received == []


def test_paystack_cancel_abandons_the_transaction(sandbox):
    reference = "fund-" + uuid.uuid4().hex
    response = checkout(paystack_init(sandbox, reference).json()["data"]["authorization_url"], "cancel")
    assert response.status_code == 303
    assert paystack_verify(sandbox, reference)["data"]["status"] == "abandoned"


def test_paystack_charges_a_saved_card_and_declines_113_13_naira(sandbox):
    reference = "fund-" + uuid.uuid4().hex
    checkout(paystack_init(sandbox, reference).json()["data"]["authorization_url"])
    code = paystack_verify(sandbox, reference)["data"]["authorization"]["authorization_code"]

    def charge(amount_kobo, ref, email="ada@example.com"):
        body = {"email": email, "amount": amount_kobo, "authorization_code": code, "reference": ref}
        return requests.post(sandbox.url + "/paystack/transaction/charge_authorization", json=body,
                             headers=PSK_AUTH, timeout=5).json()

    assert charge(2_000_00, reference + "-a")["data"]["status"] == "success"
    assert charge(113_13, reference + "-b")["data"]["status"] == "failed"
    assert charge(2_000_00, reference + "-a")["message"] == "Duplicate charge request"
    assert charge(2_000_00, reference + "-c", email="someone@else.com")["status"] is False


# -- Flutterwave funding -----------------------------------------------------------------------------

def flutterwave_pay_link(sandbox, reference: str, redirect_url: str, amount: str = "500") -> str:
    """``amount`` is written into the JSON as an exact number, the way the app's client sends it."""
    body = {"tx_ref": reference, "amount": "AMOUNT", "currency": "NGN", "redirect_url": redirect_url,
            "customer": {"email": "ada@example.com", "name": "Ada Okafor", "phonenumber": "08031234567"}}
    raw = json.dumps(body).replace('"AMOUNT"', amount)
    response = requests.post(sandbox.url + "/flutterwave/v3/payments", data=raw,
                             headers={**FLW_AUTH, "Content-Type": "application/json"}, timeout=5)
    return response.json()["data"]["link"]


def flutterwave_verify(sandbox, reference: str) -> dict:
    return requests.get(sandbox.url + "/flutterwave/v3/transactions/verify_by_reference", params={"tx_ref": reference},
                        headers=FLW_AUTH, timeout=5).json()["data"]


def test_flutterwave_checkout_pays_sends_charge_completed_and_redirects_back(sandbox, listener):
    reference = "flw-" + uuid.uuid4().hex
    response = checkout(flutterwave_pay_link(sandbox, reference, listener.origin + "/wallet/return"))

    data = flutterwave_verify(sandbox, reference)
    assert (data["status"], data["amount"], data["currency"], data["tx_ref"]) == ("successful", 500, "NGN", reference)
    location = urlsplit(response.headers["Location"])
    assert (response.status_code, location.path) == (303, "/wallet/return")
    assert parse_qs(location.query) == {"status": ["successful"], "tx_ref": [reference],
                                        "transaction_id": [str(data["id"])]}
    [(path, headers, raw)] = listener.received
    assert (path, headers["verif-hash"]) == ("/webhooks/flutterwave", KEYS["FLUTTERWAVE_SECRET_HASH"])
    event = json.loads(raw)
    assert (event["event"], event["data"]["tx_ref"], event["data"]["status"]) == (
        "charge.completed", reference, "successful")
    by_id = requests.get(f"{sandbox.url}/flutterwave/v3/transactions/{data['id']}/verify", headers=FLW_AUTH,
                         timeout=5).json()["data"]
    assert by_id["tx_ref"] == reference


def test_flutterwave_checkout_of_113_13_naira_fails_and_cancel_is_cancelled(sandbox):
    declined, cancelled = "flw-" + uuid.uuid4().hex, "flw-" + uuid.uuid4().hex
    response = checkout(flutterwave_pay_link(sandbox, declined, "http://127.0.0.1:9/r", amount="113.13"))
    assert "status=failed" in response.headers["Location"]
    assert flutterwave_verify(sandbox, declined)["status"] == "failed"
    response = checkout(flutterwave_pay_link(sandbox, cancelled, "http://127.0.0.1:9/r"), "cancel")
    assert "status=cancelled" in response.headers["Location"]
    assert flutterwave_verify(sandbox, cancelled)["status"] == "cancelled"


def test_webhook_base_knob_redirects_webhooks_and_a_failed_delivery_never_breaks_checkout(sandbox, listener):
    unreachable = f"http://127.0.0.1:{free_port()}/return"
    response = checkout(flutterwave_pay_link(sandbox, "flw-" + uuid.uuid4().hex, unreachable))
    assert response.status_code == 303  # the webhook to the callback's origin failed; checkout went on
    assert sandbox.transactions()["webhooks"][0]["error"]

    sandbox.configure(webhook_base=listener.origin)
    checkout(flutterwave_pay_link(sandbox, "flw-" + uuid.uuid4().hex, unreachable))
    assert [path for path, _h, _b in listener.received] == ["/webhooks/flutterwave"]


# -- knobs and server behaviour ----------------------------------------------------------------------

def test_latency_knob_slows_every_provider_call(sandbox):
    sandbox.configure(latency=0.3)
    started = time.monotonic()
    requests.get(sandbox.url + "/flutterwave/v3/top-bill-categories", headers=FLW_AUTH, timeout=5)
    assert time.monotonic() - started >= 0.3


def test_a_held_request_does_not_block_other_requests(sandbox):
    fw, held, reference = Flutterwave(sandbox.url), [], new_reference()

    def hold():
        try:
            fw.buy("3000000000000", reference, timeout=3)
        except requests.exceptions.RequestException as exc:
            held.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    # This number is recorded as processed, then its answer is held: once recorded, it is holding.
    wait_until(lambda: any(b["reference"] == reference for b in sandbox.transactions()["bills"]),
               what="the sandbox holding the purchase")
    started = time.monotonic()
    assert fw.outcome(fw.buy("1111111111111", new_reference())) == "successful"
    assert time.monotonic() - started < 1.0
    holder.join()
    assert held, "the timeout number was answered instead of held"


FAST_FAULTS = ["unavailable", "rate_limited", "not_processed", "pending", "dropped_processed", "dropped_unprocessed"]


def run_faulty_purchases(bills, references) -> list[str]:
    seen = []
    for reference in references:
        try:
            response = bills.buy("1111111111111", reference)
            seen.append(f"http {response.status_code} {bills.outcome(response) if response.status_code < 429 else ''}")
        except requests.exceptions.ConnectionError:
            seen.append("dropped")
    return seen


def test_seeded_faults_replay_identically_and_differ_with_another_seed(bills, sandbox):
    references = [lagos_stamp() + f"seed{n:03d}" for n in range(16)]
    sandbox.configure(fault_rate=0.5, seed=7, fault_kinds=FAST_FAULTS)
    first = run_faulty_purchases(bills, references)
    sandbox.reset()
    assert run_faulty_purchases(bills, references) == first
    assert any("successful" in s for s in first) and any("successful" not in s for s in first)
    sandbox.reset()
    sandbox.configure(seed=8)
    assert run_faulty_purchases(bills, references) != first


def test_faults_never_make_the_status_lie(bills, sandbox):
    references = [new_reference() for _ in range(16)]
    sandbox.configure(fault_rate=0.6, seed=11, fault_kinds=FAST_FAULTS)
    answers = run_faulty_purchases(bills, references)
    sandbox.configure(fault_rate=0.0)
    for reference, answer in zip(references, answers, strict=True):
        truth = bills.outcome(bills.status(reference))
        if "successful" in answer:
            assert truth == "successful"
        elif "pending" in answer:
            assert truth in ("pending", "successful")
        elif answer.startswith("http"):  # 503, 429 or 091: nothing was processed
            assert truth == "not_found"
        else:  # dropped: processed or not, and a resend agrees with the status
            resend = bills.outcome(bills.buy("1111111111111", reference))
            assert (truth, resend) in (("successful", "duplicate"), ("not_found", "successful"))


def test_unknown_or_invalid_knobs_are_refused(sandbox):
    with pytest.raises(ValueError, match="unknown knob"):
        sandbox.configure(speed=2)
    with pytest.raises(ValueError, match="fault_rate"):
        sandbox.configure(fault_rate=2)


def test_reset_forgets_every_transaction(sandbox):
    Flutterwave(sandbox.url).buy("1111111111111", new_reference())
    sandbox.reset()
    assert sandbox.transactions()["bills"] == []


# -- make run ----------------------------------------------------------------------------------------

class Child:
    def __init__(self, name, process):
        self.name, self.process = name, process


def spawn(name, argv, env):
    return Child(name, subprocess.Popen(argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))


def test_make_run_starts_the_sandbox_and_points_the_app_at_it_when_no_keys_are_set(capsys):
    env, children = {k: v for k, v in os.environ.items() if k not in KEYS}, []
    start_for_devrun(env, children, spawn)
    try:
        [child] = children
        assert child.name == "sandbox"
        assert {k: env[k] for k in KEYS} == KEYS
        response = requests.get(env["PAYSTACK_BASE_URL"] + "/transaction/verify/none",
                                headers={"Authorization": f"Bearer {env['PAYSTACK_SECRET_KEY']}"}, timeout=5)
        assert response.status_code == 404
        assert "sandbox" in capsys.readouterr().out
    finally:
        for child in children:
            os.killpg(child.process.pid, signal.SIGTERM)
            child.process.wait(timeout=5)


def test_make_run_leaves_the_sandbox_off_when_real_keys_are_set():
    env, children = {"PAYSTACK_SECRET_KEY": "sk_live_real"}, []
    start_for_devrun(env, children, spawn)
    assert children == [] and "PAYSTACK_BASE_URL" not in env


def test_naira_on_the_sandbox_wire_are_exact_numbers_never_floats():
    """Flutterwave and VTpass write naira as JSON numbers; the sandbox writes them from Decimal (Flask's
    default would write a Decimal as a string), and no float ever holds an amount."""
    from decimal import Decimal

    from webapp.sandbox.app import create_sandbox_app
    from webapp.sandbox.wire import json_bytes, naira

    assert naira(50_000) == 500 and isinstance(naira(50_000), int)
    assert naira(1313) == Decimal("13.13") and isinstance(naira(1313), Decimal)
    app = create_sandbox_app()
    assert app.json.dumps({"amount": naira(1313), "fee": Decimal("26.875"), "latency": 0.5}) == \
        '{"amount":13.13,"fee":26.875,"latency":0.5}'
    assert json_bytes({"amount": naira(1)}) == b'{"amount":0.01}'
