"""Contract: the Paystack and Flutterwave transfer clients against the sandbox's transfer APIs.

The same cases run against both clients over real HTTP. The signed webhooks the sandbox sends go
to the ``peer`` server standing in for our app (Paystack: the integration's one URL,
``webhook_base`` + /webhooks/paystack; Flutterwave: the transfer's ``callback_url``), so
signatures are checked on the exact bytes the gateway sent.
"""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from webapp.providers import ErrorClass, PaymentErrorType
from webapp.providers.registry import FLUTTERWAVE_TRANSFERS_WEBHOOK_PATH, transfer_client
from webapp.providers.transfers import ResolvedAccount

from ..waiting import wait_until
from .contract import HOLD, READ_TIMEOUT, raises

SUCCEEDS = "0690000031"
FAILS = "0690000032"
REVERSED_LATER = "0690000033"
HELD_BUT_PROCESSED = "0690000034"
HELD_UNRECORDED = "0690000035"
UNKNOWN = "0123456789"
GTBANK = "058"
AMOUNT = 25_000_00


@pytest.fixture(params=["paystack", "flutterwave"])
def gateway(request) -> str:
    return request.param


@pytest.fixture
def transfer_config(sandbox, sandbox_config, peer) -> dict:
    sandbox.configure(timeout_hold=HOLD, webhook_base=peer.url)
    return {**sandbox_config, "PROVIDER_READ_TIMEOUT": READ_TIMEOUT, "PUBLIC_BASE_URL": peer.url}


@pytest.fixture
def client(gateway, transfer_config):
    return transfer_client(gateway, transfer_config)


@pytest.fixture
def payout_reference() -> str:
    return f"payout_5_{uuid.uuid4().hex[:20]}"


def start(client, reference, number=SUCCEEDS, amount=AMOUNT):
    account = client.resolve_account(number, GTBANK)
    return client.initiate(reference, amount, account, client.create_recipient(account), "Estate payout")


def hooks(peer, reference) -> list:
    found = []
    for seen in list(peer.requests):
        if seen.path.startswith("/webhooks/") and seen.body:
            data = json.loads(seen.body).get("data") or {}
            if data.get("reference") == reference:
                found.append(seen)
    return found


def wait_for_hooks(peer, reference, count: int) -> list:
    return wait_until(lambda: (lambda found: found if len(found) >= count else None)(hooks(peer, reference)),
                      what=f"{count} transfer webhook(s) for {reference}")


def statuses(client, seen) -> list[str]:
    return [client.transfer_hint(json.loads(hook.body)).status for hook in seen]


def settled(client, reference, provider_id, status):
    return wait_until(lambda: (lambda r: r if r.status == status else None)(client.verify(reference, provider_id)),
                      what=f"{reference} verifying as {status}")


# -- banks, resolve, recipients --------------------------------------------------------------------

def test_bank_list_has_real_nigerian_banks_with_their_codes(client):
    banks = {bank.code: bank.name for bank in client.list_banks()}
    assert banks["058"] == "Guaranty Trust Bank" and banks["044"] == "Access Bank" and banks["057"] == "Zenith Bank"


@pytest.mark.parametrize("number, name", [(SUCCEEDS, "ADEBOLA ESTATE SERVICES LTD"), (FAILS, "OKONKWO FACILITY MGT"),
                                          (REVERSED_LATER, "IBRAHIM & SONS PROPERTY"),
                                          (HELD_BUT_PROCESSED, "ZENITH COURT RESIDENTS ASSOC"),
                                          (HELD_UNRECORDED, "PALM GROVE ESTATE")])
def test_test_accounts_resolve_to_their_bank_names(client, number, name):
    account = client.resolve_account(number, GTBANK)
    assert (account.account_number, account.bank_code, account.account_name) == (number, GTBANK, name)


@pytest.mark.parametrize("number", [UNKNOWN, "12345", "06900000311"])
def test_an_account_the_bank_does_not_know_is_a_permanent_invalid_customer(client, number):
    error = raises(client.resolve_account, number, GTBANK)
    assert (error.error_type, error.error_class) == (PaymentErrorType.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT)
    assert error.message


def test_paystack_recipient_is_a_code_and_the_same_account_gets_the_same_one(transfer_config):
    paystack = transfer_client("paystack", transfer_config)
    account = paystack.resolve_account(SUCCEEDS, GTBANK)
    code = paystack.create_recipient(account)
    assert code.startswith("RCP_") and paystack.create_recipient(account) == code


def test_flutterwave_needs_no_recipient(transfer_config):
    flutterwave = transfer_client("flutterwave", transfer_config)
    assert flutterwave.create_recipient(flutterwave.resolve_account(SUCCEEDS, GTBANK)) is None


# -- outcomes -----------------------------------------------------------------------------------------

def test_initiate_answers_pending_and_the_transfer_succeeds_later(client, payout_reference, peer):
    result = start(client, payout_reference)
    assert (result.status, result.reference, result.amount_kobo) == ("pending", payout_reference, AMOUNT)
    assert result.provider_id
    done = settled(client, payout_reference, result.provider_id, "success")
    assert done.amount_kobo == AMOUNT and done.fee_kobo and done.fee_kobo > 0 and done.message == ""
    assert statuses(client, wait_for_hooks(peer, payout_reference, 1)) in (["success"], ["successful"])


def test_a_failed_transfer_says_why(client, payout_reference, peer):
    result = start(client, payout_reference, FAILS)
    done = settled(client, payout_reference, result.provider_id, "failed")
    assert "dormant" in done.message.lower()
    assert statuses(client, wait_for_hooks(peer, payout_reference, 1)) == ["failed"]


def test_a_reversed_transfer_shows_success_first_and_reversed_after(client, payout_reference, peer):
    result = start(client, payout_reference, REVERSED_LATER)
    first, second = statuses(client, wait_for_hooks(peer, payout_reference, 2))
    assert first in ("success", "successful") and second == "reversed"
    done = client.verify(payout_reference, result.provider_id)
    assert done.status == "reversed" and "reversed" in done.message.lower()


def test_a_successful_transfer_reversed_later_through_the_control_endpoint(client, gateway, sandbox,
                                                                          payout_reference, peer):
    result = start(client, payout_reference)
    settled(client, payout_reference, result.provider_id, "success")
    wait_for_hooks(peer, payout_reference, 1)
    answer = requests.post(f"{sandbox.url}/_sandbox/transfers/reverse",
                           json={"gateway": gateway, "reference": payout_reference}, timeout=5)
    assert answer.status_code == 200 and answer.json()["transfer"]["status"] == "reversed"
    assert client.verify(payout_reference, result.provider_id).status == "reversed"
    assert statuses(client, wait_for_hooks(peer, payout_reference, 2))[-1] == "reversed"


def test_only_a_successful_transfer_can_be_reversed(gateway, sandbox, payout_reference):
    answer = requests.post(f"{sandbox.url}/_sandbox/transfers/reverse",
                           json={"gateway": gateway, "reference": payout_reference}, timeout=5)
    assert answer.status_code == 404


def test_kobo_survive_the_gateway_units(client, payout_reference):
    result = start(client, payout_reference, amount=1_234_56)
    assert result.amount_kobo == 1_234_56
    assert settled(client, payout_reference, result.provider_id, "success").amount_kobo == 1_234_56


# -- timeouts, duplicates ---------------------------------------------------------------------------

def test_a_processed_transfer_whose_answer_is_lost_is_outcome_unknown_then_verifies_success(
        client, gateway, payout_reference, peer):
    error = raises(start, client, payout_reference, HELD_BUT_PROCESSED)
    assert error.error_class is ErrorClass.OUTCOME_UNKNOWN
    provider_id = None
    if gateway == "flutterwave":
        # Flutterwave looks transfers up by its id only: until the webhook brings it, no answer.
        assert raises(client.verify, payout_reference).error_class is ErrorClass.TRANSIENT
        [hook] = wait_for_hooks(peer, payout_reference, 1)
        provider_id = client.transfer_hint(json.loads(hook.body)).provider_id
    assert settled(client, payout_reference, provider_id, "success").amount_kobo == AMOUNT


def test_paystack_unrecorded_transfer_is_outcome_unknown_then_not_found_and_may_go_again(
        transfer_config, payout_reference):
    paystack = transfer_client("paystack", transfer_config)
    assert raises(start, paystack, payout_reference, HELD_UNRECORDED).error_class is ErrorClass.OUTCOME_UNKNOWN
    assert paystack.verify(payout_reference).status == "not_found"
    assert start(paystack, payout_reference, HELD_UNRECORDED).status == "pending"  # same reference, once


def test_flutterwave_unrecorded_transfer_never_verifies_as_not_found(transfer_config, sandbox, payout_reference):
    flutterwave = transfer_client("flutterwave", transfer_config)
    assert raises(start, flutterwave, payout_reference, HELD_UNRECORDED).error_class is ErrorClass.OUTCOME_UNKNOWN
    assert raises(flutterwave.verify, payout_reference).error_class is ErrorClass.TRANSIENT
    assert not [t for t in sandbox.transactions()["transfers"] if t["reference"] == payout_reference]


def test_flutterwave_id_it_cannot_find_is_no_proof_of_no_record(transfer_config, payout_reference):
    flutterwave = transfer_client("flutterwave", transfer_config)
    assert raises(flutterwave.verify, payout_reference, "1").error_class is ErrorClass.TRANSIENT


def test_a_reference_sent_again_is_a_duplicate_with_unknown_outcome(client, payout_reference, sandbox):
    start(client, payout_reference)
    error = raises(start, client, payout_reference)
    assert (error.error_type, error.error_class) == (PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN)
    assert len([t for t in sandbox.transactions()["transfers"] if t["reference"] == payout_reference]) == 1


# -- webhooks -------------------------------------------------------------------------------------------

def test_the_webhook_the_gateway_sends_is_accepted(client, payout_reference, peer):
    start(client, payout_reference)
    [hook] = wait_for_hooks(peer, payout_reference, 1)
    assert client.verify_webhook(hook.body, hook.headers) is True


def test_webhook_without_its_signature_header_is_refused(client, payout_reference, peer):
    start(client, payout_reference)
    [hook] = wait_for_hooks(peer, payout_reference, 1)
    unsigned = {k: v for k, v in hook.headers.items() if k.lower() not in ("x-paystack-signature", "verif-hash")}
    assert client.verify_webhook(hook.body, unsigned) is False


def test_webhook_with_another_secret_is_refused(gateway, transfer_config, payout_reference, peer):
    start(transfer_client(gateway, transfer_config), payout_reference)
    [hook] = wait_for_hooks(peer, payout_reference, 1)
    other = transfer_client(gateway, {**transfer_config, "PAYSTACK_SECRET_KEY": "sk_test_another_one",
                                      "FLUTTERWAVE_SECRET_HASH": "another-verif-hash"})
    assert other.verify_webhook(hook.body, hook.headers) is False


def test_paystack_webhook_with_a_changed_body_is_refused(transfer_config, payout_reference, peer):
    paystack = transfer_client("paystack", transfer_config)
    start(paystack, payout_reference)
    [hook] = wait_for_hooks(peer, payout_reference, 1)
    assert paystack.verify_webhook(hook.body.replace(b'"success"', b'"failed"'), hook.headers) is False


def test_paystack_transfer_webhooks_go_to_the_integrations_one_url(transfer_config, payout_reference, peer):
    start(transfer_client("paystack", transfer_config), payout_reference)
    [hook] = wait_for_hooks(peer, payout_reference, 1)
    assert hook.path == "/webhooks/paystack"


def test_flutterwave_transfer_webhooks_go_to_the_transfers_callback_url(transfer_config, payout_reference, peer):
    start(transfer_client("flutterwave", transfer_config), payout_reference)
    [hook] = wait_for_hooks(peer, payout_reference, 1)
    assert hook.path == FLUTTERWAVE_TRANSFERS_WEBHOOK_PATH


@pytest.mark.parametrize("number, events", [
    (SUCCEEDS, {"paystack": [("transfer.success", "success")],
                "flutterwave": [("transfer.completed", "successful")]}),
    (FAILS, {"paystack": [("transfer.failed", "failed")], "flutterwave": [("transfer.completed", "failed")]}),
    (REVERSED_LATER, {"paystack": [("transfer.success", "success"), ("transfer.reversed", "reversed")],
                      "flutterwave": [("transfer.completed", "successful"), ("transfer.completed", "reversed")]}),
])
def test_transfer_hint_names_the_reference_event_status_and_transfer(client, gateway, payout_reference, peer,
                                                                      number, events):
    result = start(client, payout_reference, number)
    seen = wait_for_hooks(peer, payout_reference, len(events[gateway]))
    hints = [client.transfer_hint(json.loads(hook.body)) for hook in seen]
    assert [(h.event, h.status) for h in hints] == events[gateway]
    assert {h.reference for h in hints} == {payout_reference}
    assert {h.provider_id for h in hints} == {result.provider_id}


def test_transfer_hint_ignores_other_events(client):
    assert client.transfer_hint({"event": "charge.success", "data": {"reference": "x"}}) is None
    assert client.transfer_hint({"event": "charge.completed", "data": {"tx_ref": "x"}}) is None
    assert client.transfer_hint({"event": "transfer.success"}) is None


# -- credentials ------------------------------------------------------------------------------------

def test_a_wrong_key_is_a_permanent_authentication_error(gateway, transfer_config, payout_reference):
    wrong = transfer_client(gateway, {**transfer_config, "PAYSTACK_SECRET_KEY": "sk_test_wrong_key",
                                      "FLUTTERWAVE_SECRET_KEY": "FLWSECK_TEST-wrong"})
    account = ResolvedAccount(account_number=SUCCEEDS, bank_code=GTBANK, account_name="ADEBOLA ESTATE SERVICES LTD")
    for call in (lambda: wrong.list_banks(), lambda: wrong.resolve_account(SUCCEEDS, GTBANK),
                 lambda: wrong.initiate(payout_reference, AMOUNT, account, "RCP_x", "payout")):
        error = raises(call)
        assert (error.error_type, error.error_class) == (PaymentErrorType.AUTHENTICATION_ERROR, ErrorClass.PERMANENT)
        assert "wrong" not in error.detail and "wrong" not in str(error.raw)
