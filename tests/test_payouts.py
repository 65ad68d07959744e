"""Payouts from the estate wallet: accounts resolved through the gateway, two admins, and the
transfer settled by the gateway's word through the real sandbox (both transfer APIs).

The sandbox's test accounts (``webapp/sandbox/__init__.py``): 0690000031 pays, 0690000032 fails,
0690000033 pays and is reversed, 0690000034 is processed and then times out, 0690000035 times out
and is never recorded. The client gives up after 1 s and the sandbox holds a "timeout" for 2 s.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from webapp.admin.permissions import RIGHTS, Right
from webapp.extensions import db
from webapp.models import (
    AdminAlert,
    AuditEntry,
    Estate,
    JournalEntry,
    Notification,
    Payout,
    PayoutAccount,
    PayoutEvent,
    ProviderCallLog,
    User,
)
from webapp.models.base import utcnow
from webapp.queries import accountant_export
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.services import estate_bills, ledger, payouts
from webapp.services.payouts import alerts, approvals, janitor, jobs, transfers

from . import factories
from .payments.helpers import fund, run_worker

GATEWAYS = ("paystack", "flutterwave")
PAYS, FAILS, REVERSED, TIMES_OUT_PROCESSED, NEVER_ARRIVES = (
    "0690000031", "0690000032", "0690000033", "0690000034", "0690000035")
ESTATE_FUNDS = 1_000_000_00


@pytest.fixture
def config_overrides(sandbox_config):
    return sandbox_config


@pytest.fixture
def manager(estate, sandbox):
    return factories.make_user(estate=estate, email="manager@example.com", role="estate_admin",
                               admin_role="manager", full_name="Musa Manager")


@pytest.fixture
def finance(estate):
    return factories.make_user(estate=estate, email="finance@example.com", role="estate_admin",
                               admin_role="finance", full_name="Funke Finance")


@pytest.fixture
def funded_estate(estate, resident):
    """₦1,000,000 in the estate wallet, paid in by a resident as estate bills are."""
    fund(resident, ESTATE_FUNDS)
    ledger.pay_estate(resident.id, estate.id, ESTATE_FUNDS, f"seed-estate-{estate.id}")
    db.session.commit()
    return estate


def add_account(estate, by, gateway: str = "paystack", number: str = PAYS) -> PayoutAccount:
    bank = payouts.banks(gateway)[0]
    return payouts.add_account(estate.id, gateway, bank.code, number, by)


def approved(estate, manager, finance, gateway: str = "paystack", number: str = PAYS,
             amount_kobo: int = 250_000_00) -> Payout:
    """A payout asked for by the manager and approved by finance (the send job is queued, not run)."""
    account = add_account(estate, manager, gateway, number)
    payout = payouts.request_payout(estate.id, account.id, amount_kobo, "Security company, June", manager)
    return payouts.approve(payout, finance)


def reload(payout: Payout) -> Payout:
    db.session.rollback()
    return db.session.get(Payout, payout.id)


def entries(payout: Payout, step: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(JournalEntry.id)).where(
        JournalEntry.idempotency_key == ledger.payout_key(payout.reference, step)))


def estate_balance(estate) -> int:
    db.session.rollback()
    return ledger.estate_balance(estate.id)


def gateway_transfers(sandbox, reference: str) -> list[dict]:
    """The transfers the sandbox recorded under our reference (whichever gateway)."""
    return [t for t in sandbox.transactions().get("transfers", []) if t.get("reference") == reference]


def books_balance() -> None:
    db.session.rollback()
    assert ledger.check_invariants() == []


# --- accounts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("gateway", GATEWAYS)
def test_an_account_is_kept_with_the_name_the_bank_gives(estate, manager, gateway):
    account = add_account(estate, manager, gateway)
    assert account.account_name == "ADEBOLA ESTATE SERVICES LTD"
    assert account.masked_number == "•••• 0031"
    if gateway == "paystack":
        assert (account.recipient_code or "").startswith("RCP_")
    else:
        assert account.recipient_code is None
    stored = db.session.execute(text("SELECT account_number FROM payout_accounts")).scalar_one()
    assert PAYS not in stored  # encrypted at rest
    with pytest.raises(payouts.PayoutRefused, match="already one of"):
        add_account(estate, manager, gateway)


@pytest.mark.parametrize("number, field, words", [
    ("0690000099", "account_number", "does not know account"),
    ("12345", "account_number", "10-digit"),
    ("06900000ab", "account_number", "10-digit"),
    ("", "account_number", "10-digit"),
])
def test_an_account_the_bank_does_not_know_or_a_bad_number_is_refused(estate, manager, number, field, words):
    bank = payouts.banks("paystack")[0]
    with pytest.raises(payouts.PayoutRefused, match=words) as refused:
        payouts.add_account(estate.id, "paystack", bank.code, number, manager)
    assert refused.value.field == field
    assert db.session.scalar(select(func.count(PayoutAccount.id))) == 0


def test_a_bank_the_gateway_does_not_list_is_refused(estate, manager):
    with pytest.raises(payouts.PayoutRefused, match="Choose the bank") as refused:
        payouts.add_account(estate.id, "paystack", "999999", PAYS, manager)
    assert refused.value.field == "bank_code"


# --- maker-checker -----------------------------------------------------------------------------

def test_the_admin_who_asked_cannot_approve(funded_estate, manager, finance, sandbox):
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    with pytest.raises(payouts.PayoutRefused, match="another admin must approve"):
        payouts.approve(payout, manager)
    payout = reload(payout)
    assert payout.status == "requested" and payout.approved_by_id is None
    assert entries(payout, "debit") == 0
    assert estate_balance(funded_estate) == ESTATE_FUNDS
    assert gateway_transfers(sandbox, payout.reference) == []
    # The database refuses it too, whatever the code above it does.
    with pytest.raises(IntegrityError, match="two_people"):
        db.session.execute(Payout.__table__.update().where(Payout.id == payout.id)
                           .values(approved_by_id=manager.id))
    db.session.rollback()


def test_the_admin_who_asked_cannot_approve_through_the_page(client, auth, funded_estate, manager, finance):
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    auth.login(manager.email)
    page = client.get(f"/admin/payouts/{payout.id}").get_data(as_text=True)
    assert "another admin must approve it" in page and "Approve and send" not in page
    response = auth.post(f"/admin/payouts/{payout.id}/approve", page=f"/admin/payouts/{payout.id}",
                         follow_redirects=True)
    assert "You asked for this payout, so another admin must approve it." in response.get_data(as_text=True)
    assert reload(payout).status == "requested" and entries(payout, "debit") == 0


def test_a_viewer_can_read_payouts_but_not_ask_or_approve(client, auth, funded_estate, manager, estate):
    viewer = factories.make_user(estate=estate, email="viewer@example.com", role="estate_admin", admin_role="viewer")
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    auth.login(viewer.email)
    assert client.get(f"/admin/payouts/{payout.id}").status_code == 200
    assert auth.post(f"/admin/payouts/{payout.id}/approve", page="/admin/payouts/").status_code == 403
    assert auth.post("/admin/payouts/new", {"account": account.id, "amount": "5000", "narration": "x"},
                     page="/admin/payouts/").status_code == 403
    assert reload(payout).status == "requested"


def test_the_roles_that_approve_are_the_roles_holding_the_payouts_right():
    assert set(alerts.APPROVER_ROLES) == {role for role, rights in RIGHTS.items() if Right.PAYOUTS in rights}


def test_asking_tells_the_other_approvers_and_deciding_closes_the_alert(funded_estate, manager, finance, estate):
    viewer = factories.make_user(estate=estate, email="viewer@example.com", role="estate_admin", admin_role="viewer")
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "payout_approval")))
    assert told == {finance.id}  # not the one who asked, not a viewer
    assert viewer.id not in told
    alert = db.session.scalar(select(AdminAlert).where(AdminAlert.payout_id == payout.id))
    assert alert.kind == "payout_approval" and alert.resolved_at is None
    payouts.reject(payout, finance, "Wrong month")
    db.session.rollback()
    assert db.session.get(AdminAlert, alert.id).resolved_at is not None
    payout = reload(payout)
    assert payout.status == "rejected" and payout.decided_reason == "Wrong month"
    assert entries(payout, "debit") == 0


def test_only_the_admin_who_asked_may_withdraw(funded_estate, manager, finance):
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    with pytest.raises(payouts.PayoutRefused, match="Only the admin who asked"):
        payouts.withdraw(payout, finance, "")
    payouts.withdraw(payout, manager, "Asked twice")
    assert reload(payout).status == "cancelled"
    with pytest.raises(payouts.PayoutRefused, match="no longer be approved"):
        payouts.approve(reload(payout), finance)


def test_a_request_beyond_what_is_available_is_refused(funded_estate, manager, finance):
    account = add_account(funded_estate, manager)
    payouts.request_payout(funded_estate.id, account.id, 800_000_00, "Road repairs", manager)
    with pytest.raises(payouts.PayoutRefused, match="Only ₦200,000.00 is available") as refused:
        payouts.request_payout(funded_estate.id, account.id, 300_000_00, "Borehole", finance)
    assert refused.value.field == "amount"
    assert db.session.scalar(select(func.count(Payout.id))) == 1


def test_approval_is_refused_when_the_wallet_no_longer_holds_the_amount(funded_estate, manager, finance):
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 900_000_00, "Road repairs", manager)
    # Money leaves the estate wallet another way meanwhile (an adjustment by the platform).
    ledger.post_entry("test:estate-out", [(ledger.estate_account(funded_estate.id), -200_000_00),
                                          (ledger.system_account("fees"), 200_000_00)], kind="adjustment")
    db.session.commit()
    with pytest.raises(payouts.PayoutRefused, match="holds only ₦800,000.00"):
        payouts.approve(payout, finance)
    payout = reload(payout)
    assert payout.status == "requested" and entries(payout, "debit") == 0
    books_balance()


def test_two_admins_approving_at_once_move_the_money_once(app, require_postgres, funded_estate, manager, finance,
                                                          estate):
    other_finance = factories.make_user(estate=estate, email="finance2@example.com", role="estate_admin",
                                        admin_role="finance")
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 400_000_00, "Road repairs", manager)
    results, start = [], threading.Barrier(2)

    def approve_as(user_id: int):
        with app.app_context():
            start.wait()
            try:
                payouts.approve(db.session.get(Payout, payout.id), db.session.get(User, user_id))
                results.append("approved")
            except payouts.PayoutRefused as exc:
                results.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve_as, args=(uid,)) for uid in (finance.id, other_finance.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2 and results.count("approved") == 1, results
    assert "Someone else decided this payout a moment ago" in next(r for r in results if r != "approved")
    assert entries(payout, "debit") == 1
    assert estate_balance(funded_estate) == ESTATE_FUNDS - 400_000_00
    books_balance()


# --- sending and settling ---------------------------------------------------------------------

@pytest.mark.parametrize("gateway", GATEWAYS)
def test_an_approved_payout_is_sent_once_and_paid(app, jobs_run_here, sandbox, funded_estate, manager, finance,
                                                  gateway):
    payout = approved(funded_estate, manager, finance, gateway)
    assert estate_balance(funded_estate) == ESTATE_FUNDS - 250_000_00
    run_worker()  # the real RQ worker sends it: the gateway answers "pending"
    payout = reload(payout)
    assert payout.status in ("pending", "succeeded") and payout.send_attempts == 1
    assert jobs.check_payout(payout.id) == "succeeded"
    assert jobs.check_payout(payout.id) == "succeeded"  # asking again changes nothing
    payout = reload(payout)
    assert payout.provider_id and payout.finished_at is not None
    assert [entries(payout, step) for step in ("debit", "sent", "return", "reversal")] == [1, 1, 0, 0]
    assert len(gateway_transfers(sandbox, payout.reference)) == 1
    assert estate_balance(funded_estate) == ESTATE_FUNDS - 250_000_00
    assert ledger.balance(ledger.system_account(f"payouts:{gateway}").id) == 0
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "payout_outcome")))
    assert told == {manager.id, finance.id}
    books_balance()


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_a_failed_transfer_returns_the_money_to_the_estate_wallet_once(jobs_run_here, sandbox, funded_estate,
                                                                       manager, finance, gateway):
    payout = approved(funded_estate, manager, finance, gateway, FAILS)
    transfers.send(payout.id)
    for _ in range(3):
        transfers.check(payout.id)
    payout = reload(payout)
    assert payout.status == "failed" and payout.gateway_message
    assert [entries(payout, step) for step in ("debit", "sent", "return", "reversal")] == [1, 0, 1, 0]
    assert estate_balance(funded_estate) == ESTATE_FUNDS
    assert db.session.scalar(select(func.count(AdminAlert.id)).where(AdminAlert.payout_id == payout.id,
                                                                     AdminAlert.kind == "payout_failed")) == 1
    books_balance()


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_a_reversed_transfer_returns_the_money_once(jobs_run_here, sandbox, funded_estate, manager, finance, gateway):
    payout = approved(funded_estate, manager, finance, gateway, REVERSED)
    transfers.send(payout.id)
    for _ in range(3):
        transfers.check(payout.id)
    payout = reload(payout)
    assert payout.status == "reversed"
    assert [entries(payout, step) for step in ("debit", "sent", "return", "reversal")] == [1, 1, 0, 1]
    assert estate_balance(funded_estate) == ESTATE_FUNDS
    books_balance()


def signed_paystack(event: str, data: dict) -> tuple[bytes, dict]:
    body = json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()
    key = SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode()
    return body, {"Content-Type": "application/json",
                  "x-paystack-signature": hmac.new(key, body, hashlib.sha512).hexdigest()}


def test_a_reversal_after_success_comes_by_webhook_and_returns_the_money_once(client, jobs_run_here, sandbox,
                                                                               funded_estate, manager, finance):
    payout = approved(funded_estate, manager, finance, "paystack", PAYS)
    transfers.send(payout.id)
    assert transfers.check(payout.id) == "succeeded"
    sandbox._post("/_sandbox/transfers/reverse", {"gateway": "paystack", "reference": payout.reference})
    body, headers = signed_paystack("transfer.reversed", {"reference": payout.reference, "status": "reversed"})
    for _ in range(2):  # Paystack delivers again until it hears 200; a replay queues one check at a time
        response = client.post("/webhooks/paystack", data=body, headers=headers)
        assert response.status_code == 200 and response.get_json()["outcome"] in ("checking", "final")
        run_worker()
    payout = reload(payout)
    assert payout.status == "reversed"
    assert [entries(payout, step) for step in ("debit", "sent", "return", "reversal")] == [1, 1, 0, 1]
    assert estate_balance(funded_estate) == ESTATE_FUNDS
    books_balance()


def test_a_webhook_is_only_a_hint(client, jobs_run_here, sandbox, funded_estate, manager, finance):
    """A genuine signature on a claim the gateway does not confirm moves nothing."""
    sandbox.configure(transfer_settle_seconds=3600)
    payout = approved(funded_estate, manager, finance, "paystack", FAILS)
    transfers.send(payout.id)
    body, headers = signed_paystack("transfer.success", {"reference": payout.reference, "status": "success"})
    assert client.post("/webhooks/paystack", data=body, headers=headers).status_code == 200
    run_worker()
    payout = reload(payout)
    assert payout.status == "pending"
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == [1, 0, 0]


def test_a_forged_or_unreadable_transfer_webhook_is_refused(client, jobs_run_here, sandbox, funded_estate, manager,
                                                            finance):
    payout = approved(funded_estate, manager, finance, "paystack", PAYS)
    transfers.send(payout.id)
    body, headers = signed_paystack("transfer.success", {"reference": payout.reference})
    forged = {**headers, "x-paystack-signature": hmac.new(b"sk_test_guess", body, hashlib.sha512).hexdigest()}
    assert client.post("/webhooks/paystack", data=body, headers=forged).status_code == 401
    assert client.post("/webhooks/flutterwave/transfers", data=b'{"event":"transfer.completed"}',
                       headers={"verif-hash": "wrong"}).status_code == 401
    assert client.post("/webhooks/flutterwave/transfers", data=b"not json",
                       headers={"verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}).status_code == 400
    assert reload(payout).status == "pending"


def test_a_paystack_transfer_that_timed_out_is_asked_about_and_never_sent_twice(jobs_run_here, sandbox,
                                                                                funded_estate, manager, finance):
    payout = approved(funded_estate, manager, finance, "paystack", TIMES_OUT_PROCESSED)
    assert transfers.send(payout.id) == "unknown"
    payout = reload(payout)
    assert payout.send_attempts == 1 and payout.next_check_at > utcnow()
    with time_machine.travel(payout.next_check_at + timedelta(seconds=1), tick=True):
        janitor.run_pass()  # Paystack's lookup by our reference finds it: paid
        janitor.run_pass()
    payout = reload(payout)
    assert payout.status == "succeeded" and payout.send_attempts == 1
    assert len(gateway_transfers(sandbox, payout.reference)) == 1
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == [1, 1, 0]
    books_balance()


def wait_for(condition, what: str, seconds: float = 15.0):
    """Poll the database until ``condition()`` is true (an event from another thread), or fail."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_flutterwave_transfer_that_timed_out_waits_for_its_webhook_and_is_never_sent_again(
        live_server, jobs_run_here, sandbox, funded_estate, manager, finance):
    """Flutterwave's lookup takes only its own transfer id, which the lost answer carried: the
    payout stays unknown (asked, never resent) until ``transfer.completed`` brings the id, and the
    answer to a lookup by that id settles it."""
    payout = approved(funded_estate, manager, finance, "flutterwave", TIMES_OUT_PROCESSED)
    assert transfers.send(payout.id) == "unknown"
    if reload(payout).provider_id is None:  # the webhook may already be in
        assert transfers.check(payout.id) == "no answer"  # no id to ask by yet
    # The sandbox settles the transfer and posts transfer.completed to our callback_url (the live server).
    wait_for(lambda: db.session.get(Payout, payout.id).provider_id, "the webhook's transfer id")
    run_worker()  # the check the webhook queued
    payout = reload(payout)
    assert payout.status == "succeeded" and payout.send_attempts == 1
    assert len(gateway_transfers(sandbox, payout.reference)) == 1
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == [1, 1, 0]
    books_balance()


def test_a_paystack_transfer_it_never_got_goes_again_under_the_same_reference(jobs_run_here, sandbox,
                                                                             funded_estate, manager, finance):
    payout = approved(funded_estate, manager, finance, "paystack", NEVER_ARRIVES)
    reference = payout.reference
    assert transfers.send(payout.id) == "unknown"
    assert gateway_transfers(sandbox, reference) == []
    payout = reload(payout)
    with time_machine.travel(payout.next_check_at + timedelta(seconds=1), tick=True):
        janitor.run_pass()  # "Transfer not found" for our reference: the same reference goes again
    for _ in range(2):
        transfers.check(payout.id)
    payout = reload(payout)
    assert payout.reference == reference and payout.send_attempts == 2
    assert payout.status == "succeeded"
    assert len(gateway_transfers(sandbox, reference)) == 1
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == [1, 1, 0]
    events = [e.to_status for e in db.session.scalars(select(PayoutEvent).where(PayoutEvent.payout_id == payout.id)
                                                      .order_by(PayoutEvent.id))]
    assert events[:7] == ["requested", "approved", "submitted", "unknown", "approved", "submitted", "pending"]
    books_balance()


def test_after_as_many_sends_as_allowed_without_a_record_the_money_goes_back(app, jobs_run_here, sandbox,
                                                                              funded_estate, manager, finance):
    app.config["PAYOUT_MAX_SENDS"] = 1
    payout = approved(funded_estate, manager, finance, "paystack", NEVER_ARRIVES)
    assert transfers.send(payout.id) == "unknown"
    assert transfers.check(payout.id) == "failed"
    payout = reload(payout)
    assert "no record of it after 1 sends" in payout.gateway_message
    assert gateway_transfers(sandbox, payout.reference) == []
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == [1, 0, 1]
    assert estate_balance(funded_estate) == ESTATE_FUNDS
    books_balance()


def test_a_flutterwave_transfer_it_never_got_is_never_resent_and_alerts_after_a_day(
        jobs_run_here, sandbox, funded_estate, manager, finance):
    """No lookup by our reference at Flutterwave, so "no record" can never be proven: the payout
    is asked about and never sent again, and after a day the admins are told to settle it by hand."""
    payout = approved(funded_estate, manager, finance, "flutterwave", NEVER_ARRIVES)
    assert transfers.send(payout.id) == "unknown"
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=5), tick=True):
        janitor.run_pass()
        janitor.run_pass()
    payout = reload(payout)
    assert payout.status == "unknown" and payout.send_attempts == 1
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == [1, 0, 0]
    assert db.session.scalar(select(func.count(AdminAlert.id)).where(
        AdminAlert.payout_id == payout.id, AdminAlert.kind == "payout_unresolved")) == 1
    books_balance()


def test_a_send_whose_worker_died_is_asked_about_not_sent_again(jobs_run_here, sandbox, funded_estate, manager,
                                                                finance, app):
    payout = approved(funded_estate, manager, finance, "paystack", PAYS)
    transfers.send(payout.id)
    # As if the worker died after the call went out and before the answer was written.
    db.session.execute(Payout.__table__.update().where(Payout.id == payout.id).values(status="submitted"))
    db.session.commit()
    stale = utcnow() + timedelta(seconds=app.config["PAYOUT_STALE_AFTER_SECONDS"] + 1)
    with time_machine.travel(stale, tick=True):
        janitor.run_pass()
    payout = reload(payout)
    assert payout.status == "succeeded" and payout.send_attempts == 1
    assert len(gateway_transfers(sandbox, payout.reference)) == 1
    books_balance()


def test_a_lost_send_job_is_sent_by_the_janitor(app, jobs_run_here, sandbox, funded_estate, manager, finance):
    payout = approved(funded_estate, manager, finance, "paystack", PAYS)  # its job is never run
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=True):
        janitor.run_pass()
    payout = reload(payout)
    assert payout.status in ("pending", "succeeded") and payout.send_attempts == 1
    run_worker()  # the queued job now finds it sent and does nothing
    assert reload(payout).send_attempts == 1
    assert len(gateway_transfers(sandbox, payout.reference)) == 1


def test_a_request_nobody_approves_expires(app, funded_estate, manager):
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    with time_machine.travel(utcnow() + timedelta(days=8), tick=True):
        report = janitor.run_pass()
    assert report.expired == 1
    payout = reload(payout)
    assert payout.status == "cancelled" and "Not approved within 7 days" in payout.decided_reason
    assert db.session.scalar(select(AdminAlert.resolved_at).where(AdminAlert.payout_id == payout.id)) is not None


def test_a_payout_unsettled_for_a_day_alerts_the_admins_once(app, jobs_run_here, sandbox, funded_estate, manager,
                                                             finance):
    sandbox.configure(transfer_settle_seconds=10 * 86400)
    payout = approved(funded_estate, manager, finance, "paystack", PAYS)
    transfers.send(payout.id)
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=True):
        janitor.run_pass()
        janitor.run_pass()
    assert db.session.scalar(select(func.count(AdminAlert.id)).where(
        AdminAlert.payout_id == payout.id, AdminAlert.kind == "payout_unresolved")) == 1


def test_the_accountants_export_reconciles_payouts_with_the_ledger(jobs_run_here, sandbox, funded_estate, manager,
                                                                  finance):
    """A paid, a failed and a reversed payout: the estate wallet's export for the day closes on the
    ledger's balance, and each payout line names payout clearing and the payout's reference."""
    made = [approved(funded_estate, manager, finance, "paystack", number, amount_kobo=100_000_00)
            for number in (PAYS, FAILS, REVERSED)]
    for payout in made:
        transfers.send(payout.id)
        transfers.check(payout.id)
    assert [reload(p).status for p in made] == ["succeeded", "failed", "reversed"]
    db.session.rollback()
    estate = db.session.get(Estate, funded_estate.id)
    today = estate_bills.estate_today(estate)
    report = accountant_export.export(estate, today, today)
    assert report.closing_kobo == ledger.estate_balance(estate.id) == ESTATE_FUNDS - 100_000_00
    payout_lines = [line for line in report.lines if line.kind.startswith("payout_")]
    assert sorted(line.kind for line in payout_lines) == ["payout_debit"] * 3 + ["payout_return", "payout_reversal"]
    assert {line.payment_reference for line in payout_lines} == {p.reference for p in made}
    cleared = [line.counterpart for line in payout_lines if line.kind != "payout_reversal"]
    assert all("Payout clearing (Paystack)" in counterpart for counterpart in cleared)
    books_balance()


# --- pages -----------------------------------------------------------------------------------

def test_asking_for_a_payout_through_the_pages(client, auth, funded_estate, manager, finance, jobs_run_here):
    auth.login(manager.email)
    page = auth.post("/admin/payouts/accounts/new", {"gateway": "paystack", "bank_code": "", "account_number": PAYS},
                     page="/admin/payouts/accounts/new")
    assert page.status_code == 422 and "Choose the bank" in page.get_data(as_text=True)
    bank = payouts.banks("paystack")[0]
    added = auth.post("/admin/payouts/accounts/new", {"gateway": "paystack", "bank_code": bank.code,
                                                      "account_number": PAYS}, page="/admin/payouts/accounts/new",
                      follow_redirects=True)
    assert "ADEBOLA ESTATE SERVICES LTD" in added.get_data(as_text=True)
    account = db.session.scalar(select(PayoutAccount))
    for amount, words in (("lots", "numbers only"), ("0", "greater than ₦0"),
                          ("2000000", "Only ₦1,000,000.00 is available")):
        refused = auth.post("/admin/payouts/new", {"account": account.id, "amount": amount, "narration": "Diesel"},
                            page="/admin/payouts/new")
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422 and words in text and f'value="{amount}"' in text
    assert db.session.scalar(select(func.count(Payout.id))) == 0
    asked = auth.post("/admin/payouts/new", {"account": account.id, "amount": "150,000", "narration": "Diesel"},
                      page="/admin/payouts/new", follow_redirects=True)
    assert "Another admin of the estate must approve" in asked.get_data(as_text=True)
    payout = db.session.scalar(select(Payout))
    auth.logout()
    auth.login(finance.email)
    detail = client.get(f"/admin/payouts/{payout.id}").get_data(as_text=True)
    assert "Approve and send ₦150,000.00" in detail and "ADEBOLA ESTATE SERVICES LTD" in detail
    done = auth.post(f"/admin/payouts/{payout.id}/approve", page=f"/admin/payouts/{payout.id}",
                     follow_redirects=True)
    assert "Approved." in done.get_data(as_text=True)
    run_worker()
    listing = client.get("/admin/payouts/").get_data(as_text=True)
    assert "Musa Manager" in listing and "Funke Finance" in listing
    # Who did what under which role.
    trail = [(a.action, a.actor, a.actor_role) for a in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("payout%")).order_by(AuditEntry.id))]
    assert trail == [("payout.account_added", "manager@example.com", "manager"),
                     ("payout.requested", "manager@example.com", "manager"),
                     ("payout.approved", "finance@example.com", "finance")]


def test_another_estates_admin_cannot_see_or_touch_the_payout(client, auth, funded_estate, manager, other_admin):
    account = add_account(funded_estate, manager)
    payout = payouts.request_payout(funded_estate.id, account.id, 100_000_00, "Generator diesel", manager)
    auth.login(other_admin.email)
    assert client.get(f"/admin/payouts/{payout.id}").status_code == 404
    assert auth.post(f"/admin/payouts/{payout.id}/approve", page="/admin/payouts/").status_code == 404
    assert auth.post(f"/admin/payouts/accounts/{account.id}/remove", page="/admin/payouts/").status_code == 404
    assert "Generator diesel" not in client.get("/admin/payouts/").get_data(as_text=True)
    assert reload(payout).status == "requested"



def test_under_random_faults_every_payout_settles_once_and_is_never_sent_to_a_gateway_that_has_it(
        app, jobs_run_here, sandbox, funded_estate, manager, finance, monkeypatch):
    """Twelve payouts through a Paystack that drops connections (before and after recording), answers
    503 and 429, and leaves transfers pending, on initiates and status calls alike (seeded, so a run
    replays exactly). The janitor drives them, a day at a time, until each is final. Then: each is
    what Paystack's own record says, no initiate ever reached a Paystack that already held its
    reference (no "Duplicate Transfer Reference" in the call log), the books balance."""
    sandbox.configure(fault_rate=0.5, seed=2, fault_kinds=["dropped_processed", "dropped_unprocessed",
                                                           "unavailable", "rate_limited", "pending"])
    app.config["PAYOUT_MAX_SENDS"] = 6
    numbers = iter(range(1, 100))  # fixed references: the faults are a function of seed and reference
    monkeypatch.setattr(approvals, "new_reference", lambda _estate_id: f"payout_faults_{next(numbers):020d}")
    account = add_account(funded_estate, manager, "paystack", PAYS)
    made = []
    for n in range(12):
        payout = payouts.request_payout(funded_estate.id, account.id, 10_000_00 + n * 100, f"Payout {n}", manager)
        made.append(payouts.approve(payout, finance))
    moment = utcnow()
    for _ in range(30):
        if all(reload(p).status in ("succeeded", "failed") for p in made):
            break
        moment += timedelta(days=1)
        with time_machine.travel(moment, tick=True):
            janitor.run_pass()
    statuses = {p.reference: reload(p).status for p in made}
    assert set(statuses.values()) <= {"succeeded", "failed"}, statuses
    recorded = {t["reference"]: t["status"] for t in sandbox.transactions()["transfers"]}
    for reference, status in statuses.items():
        assert (status == "succeeded") == (recorded.get(reference) == "success"), (reference, status, recorded)
    db.session.rollback()
    duplicates = db.session.scalar(select(func.count(ProviderCallLog.id)).where(
        ProviderCallLog.operation == "initiate", ProviderCallLog.response_body.like("%uplicate%")))
    assert duplicates == 0
    # The faults did happen: sends went unanswered (unknown) or were refused before processing (back
    # to approved), and some were sent again under their reference after "not found".
    moves = db.session.execute(select(PayoutEvent.from_status, PayoutEvent.to_status)).all()
    seen = {tuple(move) for move in moves}
    assert {("submitted", "unknown"), ("submitted", "approved"), ("unknown", "approved"),
            ("unknown", "succeeded")} <= seen, seen
    paid = sum(p.amount_kobo for p in made if statuses[p.reference] == "succeeded")
    assert estate_balance(funded_estate) == ESTATE_FUNDS - paid
    books_balance()


def unanswered_for_a_day(estate, manager, finance):
    """A Flutterwave payout whose send was never recorded, a day and a minute later."""
    payout = approved(estate, manager, finance, "flutterwave", NEVER_ARRIVES)
    assert transfers.send(payout.id) == "unknown"
    return reload(payout)


@pytest.mark.parametrize("outcome, status, steps", [("paid", "succeeded", [1, 1, 0]),
                                                    ("not_sent", "failed", [1, 0, 1])])
def test_an_admin_settles_by_hand_a_transfer_unanswered_for_a_day(jobs_run_here, sandbox, funded_estate, manager,
                                                                  finance, outcome, status, steps):
    payout = unanswered_for_a_day(funded_estate, manager, finance)
    with pytest.raises(payouts.PayoutRefused, match="Give the gateway a day"):
        transfers.settle_by_hand(payout, finance, outcome, "Checked the dashboard")
    with time_machine.travel(payout.submitted_at + timedelta(days=1, minutes=1), tick=True):
        janitor.run_pass()  # the alert
        payout = reload(payout)
        with pytest.raises(payouts.PayoutRefused, match="another admin must settle it"):
            transfers.settle_by_hand(payout, manager, outcome, "Checked the dashboard")
        with pytest.raises(payouts.PayoutRefused, match="Say what you checked"):
            transfers.settle_by_hand(payout, finance, outcome, "  ")
        transfers.settle_by_hand(payout, finance, outcome, "Flutterwave dashboard, transfers, searched the reference")
    payout = reload(payout)
    assert payout.status == status
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == steps
    alert = db.session.scalar(select(AdminAlert).where(AdminAlert.payout_id == payout.id,
                                                       AdminAlert.kind == "payout_unresolved"))
    assert alert.resolved_at is not None
    transfers.check(payout.id)  # a paid one may still be asked about (a reversal); nothing moves
    assert reload(payout).status == status
    assert [entries(payout, step) for step in ("debit", "sent", "return")] == steps
    books_balance()


def test_settling_by_hand_through_the_page(client, auth, jobs_run_here, sandbox, funded_estate, manager, finance):
    payout = unanswered_for_a_day(funded_estate, manager, finance)
    auth.login(finance.email)
    assert "Settle by hand" not in client.get(f"/admin/payouts/{payout.id}").get_data(as_text=True)
    with time_machine.travel(payout.submitted_at + timedelta(days=1, minutes=1), tick=True):
        page = client.get(f"/admin/payouts/{payout.id}").get_data(as_text=True)
        assert "Settle by hand" in page and payout.reference in page
        refused = auth.post(f"/admin/payouts/{payout.id}/settle", {"outcome": "lost", "note": "x"},
                            page=f"/admin/payouts/{payout.id}", follow_redirects=True)
        assert "Not a valid choice" in refused.get_data(as_text=True) or "Choose" in refused.get_data(as_text=True)
        assert reload(payout).status == "unknown"
        done = auth.post(f"/admin/payouts/{payout.id}/settle", {"outcome": "not_sent", "note": "No such transfer"},
                         page=f"/admin/payouts/{payout.id}", follow_redirects=True)
    assert "Settled by hand" in done.get_data(as_text=True)
    assert reload(payout).status == "failed" and estate_balance(funded_estate) == ESTATE_FUNDS
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payout.settled_by_hand"))
    assert audit.actor_role == "finance" and audit.reason == "No such transfer"
