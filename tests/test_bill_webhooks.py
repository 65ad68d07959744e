"""Flutterwave's bill-status webhook: a hint that triggers a status query, never a truth in itself.

``pending_payment`` is a Flutterwave purchase for 2010000000000 (accepted as pending; the sandbox
resolves it on the 2nd status query) that the worker left ``unknown`` and one janitor pass asked
about once. So the next status query, the one an event triggers, is what settles it: if the event
were trusted, or ignored, the tests below would see it.

The sandbox's own bill events are switched off except where a test turns them on, so each test
delivers the event itself through the Flask test client.
"""
from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import EmailMessage, Notification, ProviderCallLog
from webapp.models.base import utcnow
from webapp.sandbox.flutterwave import webhook_event
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.services import ledger, payments

from .payments.helpers import entry_count, fund, link, pay, prepaid_entry, reload, run_worker, sync_catalogue
from .waiting import wait_until

BILLS_URL = "/webhooks/flutterwave/bills"
GOOD_HASH = {"verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def funded(app, sandbox, estate, resident):
    sandbox.configure(bill_webhooks=False)
    sync_catalogue(estate.id)
    fund(resident, 100_000_00)
    return resident


@pytest.fixture
def flutterwave_meter(funded, estate):
    def linked(number: str):
        return link(funded, prepaid_entry(estate.id, "flutterwave"), number, nickname=f"Meter {number[-4:]}")

    return linked


@pytest.fixture
def pending_payment(funded, flutterwave_meter):
    payment = pay(funded, flutterwave_meter("2010000000000"))
    run_worker()
    assert reload(payment).status == "unknown"
    payments.run_janitor(utcnow() + timedelta(minutes=2))  # the first status query: still pending
    payment = reload(payment)
    assert (payment.status, payment.status_checks) == ("unknown", 1)
    return payment


def sandbox_event(sandbox, payment, **data) -> dict:
    """The event the sandbox sends for this bill (its own ``webhook_event``), as if it had resolved;
    ``data`` overrides fields of its ``data``."""
    bill = next(b for b in sandbox.transactions()["bills"]
                if b["provider"] == "flutterwave" and b["reference"] == payment.reference)
    txn = SimpleNamespace(**{**bill, "status": "successful", "product": SimpleNamespace(biller_name="EKEDC")})
    event = webhook_event(txn)
    event["data"].update(data)
    return event


def post(client, body, headers=None, url: str = BILLS_URL):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data=raw, headers={"Content-Type": "application/json", **(GOOD_HASH if headers is None
                                                                                        else headers)})


def queued_jobs() -> int:
    return queue(PAYMENTS).count


def calls(payment) -> list[ProviderCallLog]:
    return list(db.session.scalars(select(ProviderCallLog).where(ProviderCallLog.payment_id == payment.id)
                                   .order_by(ProviderCallLog.id)))


def snapshot(payment) -> tuple:
    """What an event may change: state, status checks, provider calls, journal entries, queued jobs."""
    payment = reload(payment)
    return (payment.status, payment.status_checks, len(calls(payment)), entry_count(payment.reference, "debit"),
            entry_count(payment.reference, "refund"), queued_jobs())


def succeeded_notifications(user) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.event == "payment_succeeded"))


# A genuine event

def test_genuine_event_settles_the_payment_through_a_status_query(client, sandbox, pending_payment):
    last_call = calls(pending_payment)[-1].id
    response = post(client, sandbox_event(sandbox, pending_payment))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "outcome": "checking"}
    assert reload(pending_payment).status == "unknown"  # the event itself settles nothing

    run_worker()
    payment = reload(pending_payment)
    assert payment.status == "succeeded" and payment.token
    assert payment.status_checks == 2
    assert [c.operation for c in calls(payment) if c.id > last_call] == ["status"]
    assert entry_count(payment.reference, "debit") == 1 and entry_count(payment.reference, "refund") == 0
    assert ledger.check_invariants() == []


@pytest.mark.parametrize("only", ["tx_ref", "flw_ref"])
def test_event_naming_only_flutterwaves_reference_finds_the_payment(client, sandbox, pending_payment, only):
    event = sandbox_event(sandbox, pending_payment, customer_reference=None)
    event["data"] = {k: v for k, v in event["data"].items() if k not in {"tx_ref", "flw_ref"} - {only}}
    assert post(client, event).get_json()["outcome"] == "checking"
    run_worker()
    assert reload(pending_payment).status == "succeeded"


def test_event_claiming_failure_does_not_fail_the_payment(client, sandbox, pending_payment):
    event = sandbox_event(sandbox, pending_payment, status="fail", message="Bill payment failed")
    assert post(client, event).status_code == 200
    run_worker()
    payment = reload(pending_payment)
    assert payment.status == "succeeded"  # the provider's answer to the query, not the event's claim
    assert entry_count(payment.reference, "refund") == 0


def test_bill_event_sent_to_the_funding_url_is_handled_the_same_way(client, sandbox, pending_payment):
    response = post(client, sandbox_event(sandbox, pending_payment), url="/webhooks/flutterwave")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "outcome": "checking"}
    run_worker()
    assert reload(pending_payment).status == "succeeded"


def test_the_sandboxs_own_event_is_accepted_by_the_live_route(live_server, sandbox, funded, flutterwave_meter):
    sandbox.configure(bill_webhooks=True, bill_webhook_delay=0.0)
    payment = pay(funded, flutterwave_meter("1111111111111"))
    run_worker()
    delivered = wait_until(
        lambda: [w for w in sandbox.transactions()["webhooks"] if w["reference"] == payment.reference],
        what="the sandbox sending its bill event")
    assert delivered[0]["url"] == live_server + BILLS_URL
    assert delivered[0]["status_code"] == 200, delivered
    run_worker()  # whatever the event queued
    payment = reload(payment)
    assert payment.status == "succeeded" and entry_count(payment.reference, "debit") == 1


# Replays

def test_replayed_event_settles_once_and_notifies_once(client, sandbox, funded, pending_payment):
    event = sandbox_event(sandbox, pending_payment)
    outcomes = []
    for _ in range(5):
        outcomes.append(post(client, event).get_json()["outcome"])
        run_worker()
    assert outcomes == ["checking"] + ["final"] * 4  # a final payment needs no more questions
    payment = reload(pending_payment)
    assert payment.status == "succeeded" and payment.status_checks == 2
    assert succeeded_notifications(funded) == 1
    assert entry_count(payment.reference, "debit") == 1 and entry_count(payment.reference, "refund") == 0
    assert ledger.check_invariants() == []


def test_events_arriving_before_the_worker_runs_queue_one_check(client, sandbox, pending_payment):
    event = sandbox_event(sandbox, pending_payment)
    outcomes = [post(client, event).get_json()["outcome"] for _ in range(5)]
    assert outcomes == ["checking"] + ["already checking"] * 4
    assert queued_jobs() == 1
    run_worker()
    payment = reload(pending_payment)
    assert payment.status == "succeeded" and payment.status_checks == 2


# Events that change nothing

@pytest.mark.parametrize("headers", [
    {"verif-hash": "not-the-hash"},
    {"verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"] + "x"},
    {"verif-hash": ""},
    {},
])
def test_forged_event_is_401_and_changes_nothing(client, sandbox, pending_payment, headers):
    before = snapshot(pending_payment)
    response = post(client, sandbox_event(sandbox, pending_payment), headers=headers)
    assert response.status_code == 401
    assert snapshot(pending_payment) == before
    run_worker()
    assert snapshot(pending_payment) == before


def huge_body(sandbox, payment) -> bytes:
    event = sandbox_event(sandbox, payment)
    event["data"]["message"] = "x" * (64 * 1024)
    return json.dumps(event).encode()


MALFORMED = {
    "not JSON": lambda sandbox, p: b"event=singlebillpayment.status",
    "not UTF-8": lambda sandbox, p: b"\xff\xfe{}",
    "a JSON list": lambda sandbox, p: b"[1, 2, 3]",
    "a JSON string": lambda sandbox, p: b'"singlebillpayment.status"',
    "no data": lambda sandbox, p: {"event": "singlebillpayment.status"},
    "data is a list": lambda sandbox, p: {"event": "singlebillpayment.status", "data": [p.reference]},
    "wrong event": lambda sandbox, p: {**sandbox_event(sandbox, p), "event": "charge.completed"},
    "no event": lambda sandbox, p: {"data": sandbox_event(sandbox, p)["data"]},
    "number reference": lambda sandbox, p: sandbox_event(sandbox, p, customer_reference=12345),
    "object reference": lambda sandbox, p: sandbox_event(sandbox, p, customer_reference={"$ne": None}),
    "list tx_ref": lambda sandbox, p: sandbox_event(sandbox, p, customer_reference=None, tx_ref=["a"]),
    "no reference": lambda sandbox, p: sandbox_event(sandbox, p, customer_reference=None, tx_ref=None,
                                                     flw_ref=None),
    "blank references": lambda sandbox, p: sandbox_event(sandbox, p, customer_reference=" ", tx_ref="",
                                                         flw_ref=None),
    "reference too long": lambda sandbox, p: sandbox_event(sandbox, p, customer_reference="R" * 500),
    "huge body": huge_body,
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_event_is_4xx_and_changes_nothing(client, sandbox, pending_payment, name):
    body = MALFORMED[name](sandbox, pending_payment)
    before = snapshot(pending_payment)
    response = post(client, body)
    assert response.status_code == (413 if name == "huge body" else 400)
    assert response.is_json and response.get_json()["error"]
    assert snapshot(pending_payment) == before


def test_event_for_a_reference_we_never_issued_is_ignored(client, sandbox, pending_payment):
    before = snapshot(pending_payment)
    event = sandbox_event(sandbox, pending_payment, customer_reference="202601010000not-ours",
                          tx_ref="CF-FLYAPI-000000000000", flw_ref="BPUSSD000000000")
    response = post(client, event)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored"}
    assert snapshot(pending_payment) == before


def test_event_naming_a_vtpass_payment_is_ignored(client, sandbox, funded, estate):
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), "2010000000000"))
    run_worker()
    before = snapshot(payment)
    event = {"event": "singlebillpayment.status", "data": {"customer_reference": payment.reference,
                                                           "status": "success"}}
    assert post(client, event).get_json() == {"status": "ignored"}
    assert snapshot(payment) == before


def test_without_a_secret_hash_every_event_is_503(app, client, sandbox, pending_payment):
    app.config["FLUTTERWAVE_SECRET_HASH"] = ""
    before = snapshot(pending_payment)
    response = post(client, sandbox_event(sandbox, pending_payment))
    assert response.status_code == 503
    assert "not configured" in response.get_json()["error"]
    assert snapshot(pending_payment) == before


def test_redis_unreachable_is_503_so_flutterwave_delivers_again(app, client, sandbox, pending_payment):
    from webapp.infra.local_services import free_port

    event = sandbox_event(sandbox, pending_payment)
    before = snapshot(pending_payment)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    response = post(client, event)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    app.config["REDIS_URL"] = app.config["RATELIMIT_STORAGE_URI"]
    assert snapshot(pending_payment) == before
    assert post(client, event).get_json()["outcome"] == "checking"  # the redelivery gets through


def test_webhook_route_is_rate_limited(app, client, sandbox, pending_payment):
    app.config["WEBHOOK_RATE_LIMIT"] = "2 per minute"
    event = sandbox_event(sandbox, pending_payment, customer_reference="not-ours", tx_ref=None, flw_ref=None)
    assert [post(client, event).status_code for _ in range(3)] == [200, 200, 429]


# A token that comes after the purchase

def test_event_for_a_token_on_its_way_asks_for_the_token(client, sandbox, funded, flutterwave_meter):
    payment = pay(funded, flutterwave_meter("6000000000000"))
    run_worker()
    payment = reload(payment)
    assert payment.token_on_its_way
    for _ in range(2):  # the sandbox gives the token on the 2nd status check
        assert post(client, sandbox_event(sandbox, payment)).get_json()["outcome"] == "checking"
        run_worker()
    payment = reload(payment)
    assert payment.token and not payment.token_on_its_way
    arrived = db.session.scalars(select(Notification).where(Notification.user_id == funded.id,
                                                            Notification.title == "Your token has arrived")).all()
    assert len(arrived) == 1 and " ".join(payment.token_groups) in arrived[0].body
    assert db.session.scalar(select(func.count(EmailMessage.id)).where(
        EmailMessage.dedup_key == f"payment:{payment.reference}:token:email")) == 1
    assert post(client, sandbox_event(sandbox, payment)).get_json()["outcome"] == "final"
