"""The sandbox's transfer (payout) APIs at the wire level: knobs, auth, reference rules, state."""
from __future__ import annotations

import uuid

import pytest
import requests

from webapp.sandbox.keys import SANDBOX_CREDENTIALS as KEYS

from .waiting import wait_until

PSK = {"Authorization": f"Bearer {KEYS['PAYSTACK_SECRET_KEY']}"}
FLW = {"Authorization": f"Bearer {KEYS['FLUTTERWAVE_SECRET_KEY']}"}


def reference() -> str:
    return f"payout_5_{uuid.uuid4().hex[:20]}"


def paystack_send(sandbox, ref: str, number: str = "0690000031", headers=PSK) -> requests.Response:
    recipient = requests.post(f"{sandbox.url}/paystack/transferrecipient", headers=PSK, timeout=5, json={
        "type": "nuban", "name": "Estate", "account_number": number, "bank_code": "058"}).json()["data"]
    return requests.post(f"{sandbox.url}/paystack/transfer", headers=headers, timeout=5, json={
        "source": "balance", "amount": 500000, "recipient": recipient["recipient_code"], "reference": ref})


def paystack_status(sandbox, ref: str) -> str:
    answer = requests.get(f"{sandbox.url}/paystack/transfer/verify/{ref}", headers=PSK, timeout=5)
    return answer.json()["data"]["status"]


def test_a_transfer_stays_pending_until_the_settle_time_has_passed(sandbox):
    sandbox.configure(transfer_settle_seconds=0.3, transfer_webhooks=False)
    ref = reference()
    assert paystack_send(sandbox, ref).json()["data"]["status"] == "pending"
    assert paystack_status(sandbox, ref) == "pending"
    assert wait_until(lambda: paystack_status(sandbox, ref) == "success", what="settling after 0.3 s")


def test_with_transfer_webhooks_off_nothing_is_sent(sandbox):
    sandbox.configure(transfer_webhooks=False, webhook_base="http://127.0.0.1:9")
    ref = reference()
    paystack_send(sandbox, ref, "0690000033")
    assert paystack_status(sandbox, ref) == "success"
    assert paystack_status(sandbox, ref) == "reversed"
    assert not [w for w in sandbox.transactions()["webhooks"] if w["reference"] == ref]


def test_settled_transfers_send_their_webhook_to_the_paystack_url(sandbox):
    sandbox.configure(webhook_base="http://127.0.0.1:9")  # nothing listens: the failed delivery is recorded
    ref = reference()
    paystack_send(sandbox, ref, "0690000032")
    [hook] = wait_until(lambda: [w for w in sandbox.transactions()["webhooks"] if w["reference"] == ref],
                        what="the transfer.failed delivery")
    assert (hook["event"], hook["url"]) == ("transfer.failed", "http://127.0.0.1:9/webhooks/paystack")


def test_transfers_are_in_the_dump_and_forgotten_on_reset(sandbox):
    ref = reference()
    paystack_send(sandbox, ref)
    [txn] = [t for t in sandbox.transactions()["transfers"] if t["reference"] == ref]
    assert (txn["gateway"], txn["amount_kobo"], txn["account_name"]) == ("paystack", 500000,
                                                                         "ADEBOLA ESTATE SERVICES LTD")
    sandbox.reset()
    assert sandbox.transactions()["transfers"] == [] and sandbox.transactions()["recipients"] == []


@pytest.mark.parametrize("bad", ["PAYOUT_UPPERCASE_1234567", "short_ref_123", "payout.with.dots.12345"])
def test_paystack_refuses_references_outside_its_rule(sandbox, bad):
    answer = paystack_send(sandbox, bad)
    assert answer.status_code == 400 and answer.json()["status"] is False


def test_transfer_endpoints_check_the_gateway_credentials(sandbox):
    assert paystack_send(sandbox, reference(), headers={"Authorization": "Bearer sk_test_nope"}).status_code == 401
    answer = requests.get(f"{sandbox.url}/flutterwave/v3/banks/NG", headers={"Authorization": "Bearer x"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["status"] == "error"


def test_flutterwave_amounts_are_naira(sandbox):
    answer = requests.post(f"{sandbox.url}/flutterwave/v3/transfers", headers=FLW, timeout=5, json={
        "account_bank": "044", "account_number": "0690000031", "amount": 12.34, "currency": "NGN",
        "reference": reference(), "narration": "x"}).json()
    assert answer["data"]["amount"] == 12.34 and answer["data"]["status"] == "NEW"
    [txn] = sandbox.transactions()["transfers"]
    assert txn["amount_kobo"] == 12_34


@pytest.mark.parametrize("changes", [{"transfer_settle_seconds": -1}, {"transfer_webhooks": "yes"}])
def test_transfer_knobs_are_validated(sandbox, changes):
    with pytest.raises(ValueError):
        sandbox.configure(**changes)


def test_seeded_faults_reach_transfer_initiates(sandbox):
    sandbox.configure(fault_rate=1.0, fault_kinds=["unavailable"])
    assert paystack_send(sandbox, reference()).status_code == 503
    assert sandbox.transactions()["transfers"] == []
