"""Payments against providers that behave as documented: Flutterwave's status keyed by its own tx_ref,
tokens that come later, VTpass refusing yesterday's request_id. Real worker, real sandbox over HTTP.

Every test counts the purchases the sandbox processed for the payment (over every request_id it
went out under): exactly one for a success, none for a failure, never two.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AdminAlert, Notification, Payment, ProviderCallLog, ProviderReference
from webapp.models.base import utcnow
from webapp.providers.vtpass_codes import lagos_now
from webapp.services import ledger, payments
from webapp.services.payments import references
from webapp.services.payments.lifecycle import PROVABLE_MARGIN

from .helpers import PROVIDERS, entry_count, link, pay, prepaid_entry, reload, run_worker


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def pay_meter(funded, estate):
    """Pay ₦5,000 from the funded wallet for meter ``number`` at ``api_provider``'s prepaid entry,
    run the worker, and return the payment as committed then."""

    def run(api_provider: str, number: str) -> Payment:
        payment = pay(funded, link(funded, prepaid_entry(estate.id, api_provider), number))
        run_worker()
        return reload(payment)

    return run


@pytest.fixture
def janitor(sandbox):
    """A janitor pass ``after`` from now, with the sandbox's clock moved to the same moment."""
    start = utcnow()

    def run(after: timedelta):
        sandbox.configure(clock_offset_seconds=after.total_seconds())
        return payments.run_janitor(start + after)

    return run


def processed(sandbox, payment) -> int:
    return sandbox.processed(payment.api_provider, references.request_ids(payment))


def refs_of(payment) -> dict[str, list[str]]:
    rows = db.session.scalars(select(ProviderReference).where(ProviderReference.payment_id == payment.id)).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.kind, []).append(row.value)
    return found


def status_paths(payment) -> list[str]:
    calls = db.session.scalars(select(ProviderCallLog).where(ProviderCallLog.payment_id == payment.id,
                                                             ProviderCallLog.operation == "status")).all()
    return [c.url.split("/bills/")[-1].split("?")[0] for c in calls]


def alerts(kind: str) -> list[AdminAlert]:
    return list(db.session.scalars(select(AdminAlert).where(AdminAlert.kind == kind)))


def notifications(user_id: int, title: str) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == user_id,
                                                                       Notification.title == title))


# -- Flutterwave: requery by what it keys on ------------------------------------------------------------

def test_flutterwave_purchase_keeps_its_tx_ref_and_flw_ref_and_requeries_by_tx_ref(pay_meter, sandbox, janitor):
    payment = pay_meter("flutterwave", "2010000000000")  # pending at first
    assert payment.status == "unknown"
    kept = refs_of(payment)
    assert kept["tx_ref"][0].startswith("CF-FLYAPI-") and kept["flw_ref"]
    for hours in (1, 2):
        janitor(timedelta(hours=hours))
    payment = reload(payment)
    assert payment.status == "succeeded" and payment.token
    assert set(status_paths(payment)) == {kept["tx_ref"][0]}  # never by our reference once a tx_ref is known
    assert processed(sandbox, payment) == 1 and entry_count(payment.reference, "debit") == 1


def test_flutterwave_timeout_that_was_processed_is_found_in_the_listing_and_bought_once(pay_meter, sandbox, janitor):
    payment = pay_meter("flutterwave", "3000000000000")
    assert reload(payment).status == "unknown"
    assert refs_of(reload(payment)) == {}  # the answer never came: we hold only our reference
    janitor(timedelta(hours=1))
    payment = reload(payment)
    assert payment.status == "succeeded"
    assert payment.purchase_attempts == 1
    assert refs_of(payment)["tx_ref"]  # learned from the listing
    assert processed(sandbox, payment) == 1
    assert entry_count(payment.reference, "debit") == 1 and entry_count(payment.reference, "refund") == 0


def test_a_404_by_the_wrong_key_never_leads_to_a_resend(pay_meter, sandbox, janitor):
    """Flutterwave gave a tx_ref, then its records say nothing by any key: the bill exists somewhere,
    so the payment stays unknown and is never sent again."""
    payment = pay_meter("flutterwave", "2010000000000")
    sandbox.disagree("flutterwave", payment.reference, "missing")
    for hours in (1, 2, 3, 30):
        janitor(timedelta(hours=hours))
    payment = reload(payment)
    assert payment.status == "unknown"
    assert payment.purchase_attempts == 1
    assert any("could not confirm" in e.reason for e in payment.events)


def test_a_listing_with_only_a_summary_is_never_no_record_and_alerts_once(pay_meter, sandbox, janitor):
    sandbox.configure(flw_listing_items=False)  # the shape of Flutterwave's published listing sample
    payment = pay_meter("flutterwave", "3000000000001")  # timed out, no record
    for hours in (1, 2, 8, 25, 50):
        janitor(timedelta(hours=hours))
    payment = reload(payment)
    assert payment.status == "unknown" and payment.purchase_attempts == 1
    [alert] = alerts("payment_unknown")
    assert alert.details["reference"] == payment.reference
    assert alert.details["request_ids"] == [payment.reference]
    assert alert.details["last_provider_call"]["operation"] in ("status", "listing")
    assert processed(sandbox, payment) == 0 and entry_count(payment.reference, "refund") == 0


def test_flutterwave_listing_must_wait_out_the_record_lag_before_a_resend(app, pay_meter, sandbox, janitor):
    app.config["FLUTTERWAVE_RECORD_LAG_SECONDS"] = 3600  # compared with the real clock by the client
    payment = pay_meter("flutterwave", "3000000000001")
    janitor(timedelta(minutes=10))
    payment = reload(payment)
    assert (payment.status, payment.purchase_attempts) == ("unknown", 1)
    assert any("may still lag" in e.reason for e in payment.events)



def test_a_check_held_back_only_by_the_record_lag_is_made_once_the_lag_has_passed(app, pay_meter, janitor):
    """Flutterwave lists a bill only after a while (FLUTTERWAVE_RECORD_LAG_SECONDS): a check that
    could not prove anything for that reason alone is made again just after the lag ends, not at
    the next, later step of the requery backoff."""
    app.config["FLUTTERWAVE_RECORD_LAG_SECONDS"] = 600  # compared with the real clock by the client
    payment = pay_meter("flutterwave", "3000000000001")
    sent = references.keys_for(payment).last_sent_at
    assert sent is not None
    for after in (61, 122):  # the first two steps of the backoff come before the lag ends: kept
        janitor(timedelta(seconds=after))
        payment = reload(payment)
        assert payment.status == "unknown" and payment.next_check_at < sent + timedelta(seconds=600)
    janitor(timedelta(seconds=423))  # the next step (15 minutes on) would pass the lag's end by far
    payment = reload(payment)
    assert payment.status == "unknown" and payment.purchase_attempts == 1
    assert payment.next_check_at == sent + timedelta(seconds=600) + PROVABLE_MARGIN
    assert "may still lag" in payment.events[-1].reason

# -- tokens that come later ----------------------------------------------------------------------------

@pytest.mark.parametrize("api_provider", PROVIDERS)
def test_late_token_is_asked_for_stored_once_and_notified_once(funded, pay_meter, sandbox, janitor, api_provider):
    payment = pay_meter(api_provider, "6000000000000")
    assert payment.status == "succeeded" and payment.token is None and payment.token_on_its_way
    assert notifications(funded.id, "Payment succeeded") == 1
    janitor(timedelta(minutes=3))  # 1st status check: not yet
    assert reload(payment).token is None and reload(payment).token_checks == 1
    janitor(timedelta(minutes=10))  # 2nd: the token is there
    payment = reload(payment)
    assert payment.token and len(payment.token) == 20 and payment.token_received_at
    assert not payment.token_on_its_way
    assert notifications(funded.id, "Your token has arrived") == 1
    for minutes in (30, 120):  # nothing more to ask
        janitor(timedelta(minutes=minutes))
    assert reload(payment).token_checks == 2
    assert notifications(funded.id, "Your token has arrived") == 1
    assert processed(sandbox, payment) == 1 and entry_count(payment.reference, "debit") == 1
    assert ledger.check_invariants() == []


def test_a_token_that_never_comes_alerts_an_admin_once_after_24_hours(pay_meter, sandbox, janitor):
    payment = pay_meter("vtpass", "6000000000001")
    for hours in (1, 5, 23):
        janitor(timedelta(hours=hours))
    assert alerts("token_missing") == []
    janitor(timedelta(hours=25))
    janitor(timedelta(hours=27))
    [alert] = alerts("token_missing")
    assert alert.payment_id == payment.id and alert.details["reference"] == payment.reference
    payment = reload(payment)
    assert payment.status == "succeeded" and payment.token_on_its_way  # still asking, hourly
    assert processed(sandbox, payment) == 1


# -- VTpass across midnight ----------------------------------------------------------------------------

def test_vtpass_resend_on_the_next_lagos_day_goes_out_under_a_new_request_id_once(pay_meter, sandbox, janitor):
    payment = pay_meter("vtpass", "3000000000001")  # 1st call: timeout, no record
    assert reload(payment).status == "unknown"
    next_day = lagos_now().replace(hour=10, minute=0) + timedelta(days=1) - lagos_now()
    janitor(next_day)
    payment = reload(payment)
    assert payment.status == "succeeded"
    ids = references.request_ids(payment)
    assert len(ids) == 2 and ids[0] == payment.reference
    assert ids[1][:8] == lagos_now(utcnow() + next_day).strftime("%Y%m%d") and ids[1].endswith("R2")
    assert refs_of(payment)["transaction_id"]
    assert any(f"Resent under request_id {ids[1]}" in e.reason for e in payment.events)
    assert processed(sandbox, payment) == 1
    assert entry_count(payment.reference, "debit") == 1 and entry_count(payment.reference, "refund") == 0
    assert ledger.check_invariants() == []


def test_vtpass_old_request_id_is_still_asked_and_its_success_settles_the_payment(pay_meter, sandbox, janitor):
    """A success on the first request_id, learned after a second one was made, is the purchase."""
    payment = pay_meter("vtpass", "2010000000000")  # pending at first
    new_id = references.add_request_id(payment, utcnow() + timedelta(days=1))  # as if a resend had been made
    db.session.commit()
    for hours in (1, 2):
        janitor(timedelta(hours=hours))
    payment = reload(payment)
    assert payment.status == "succeeded"
    assert payment.purchase_attempts == 1  # nothing went out under the new id
    assert sandbox.processed("vtpass", [new_id]) == 0 and processed(sandbox, payment) == 1
