"""SMS notifications through Termii: the client against the sandbox over HTTP, the outbox relay,
per-event opt-in, quiet hours, delivery reports (signed, shown when failed) and the SMS settings."""
from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import SmsMessage, SmsStatus, User
from webapp.providers import termii
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.services import notify
from webapp.services.notify import sms, sms_outbox
from webapp.services.payments import outcomes

from .factories_payments import make_catalogue_entry, make_payment, make_utility_account
from .factories_sms import make_sms
from .payments.helpers import run_worker
from .waiting import wait_until

E = notify.NotificationEvent
PHONE = "+2348031234567"
REJECTED_PHONE = "+2348090000001"  # the sandbox reports "Rejected"
UNAVAILABLE_TWICE_PHONE = "+2348090000503"  # the sandbox answers 503 to its first two sends
SECRET = SANDBOX_CREDENTIALS["TERMII_WEBHOOK_SECRET"]


@pytest.fixture
def config_overrides(sandbox_config) -> dict:
    return {**sandbox_config, "MAIL_SERVER": "", "PUBLIC_BASE_URL": "https://autopay.example"}


@pytest.fixture
def texter(resident):
    """The resident with a phone number and SMS on for "wallet funded" (SMS is off by default)."""
    resident.phone = PHONE
    notify.set_preference(resident.id, E.WALLET_FUNDED, "sms", True)
    db.session.commit()
    return resident


def _fund_notice(user: User, key: str = "funding:REF1:credited", **kwargs) -> list[str]:
    sent = notify.notify(user.id, E.WALLET_FUNDED, title="Wallet funded", body="₦5,000.00 reached your wallet.",
                         dedup_key=key, **kwargs)
    db.session.commit()
    return sent


def _rows(user: User) -> list[SmsMessage]:
    db.session.rollback()
    return db.session.scalars(select(SmsMessage).where(SmsMessage.user_id == user.id).order_by(SmsMessage.id)).all()


def _sandbox_sends(sandbox, to: str = PHONE) -> list[dict]:
    return [sent for sent in sandbox.transactions()["sms"] if sent["to"] == to.lstrip("+")]


def _signed(payload: dict, secret: str = SECRET) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, {"Content-Type": "application/json", termii.SIGNATURE_HEADER: termii.sign(raw, secret)}


# ---------------------------------------------------------------- the client, over HTTP to the sandbox

def test_client_sends_in_termiis_wire_format_and_keeps_the_message_id(app, sandbox):
    client = sms_outbox.client()
    sent = client.send(PHONE, "Your token: 1234 5678")
    assert sent.message_id.isdigit()
    [record] = _sandbox_sends(sandbox)
    # developers.termii.com/messaging-api: "to" in international format without the plus.
    assert record["to"] == "2348031234567"
    assert (record["from"], record["channel"], record["sms"]) == ("Autopay", "dnd", "Your token: 1234 5678")
    assert record["message_id"] == sent.message_id


def test_client_calls_a_503_temporary_and_a_wrong_key_temporary_too(app, sandbox):
    with pytest.raises(termii.SmsSendError) as unavailable:
        sms_outbox.client().send(UNAVAILABLE_TWICE_PHONE, "hello")
    assert unavailable.value.temporary and unavailable.value.http_status == 503
    app.config["TERMII_API_KEY"] = "not-the-key"
    with pytest.raises(termii.SmsSendError) as refused:
        sms_outbox.client().send(PHONE, "hello")
    assert refused.value.http_status == 401 and refused.value.temporary
    assert _sandbox_sends(sandbox) == []


def test_client_call_that_gets_no_answer_is_temporary(app):
    closed = termii.TermiiClient("http://127.0.0.1:9", "key", "Autopay", connect_timeout=0.5, read_timeout=0.5)
    with pytest.raises(termii.SmsSendError) as failed:
        closed.send(PHONE, "hello")
    assert failed.value.temporary


# ---------------------------------------------------------------- choosing SMS

def test_sms_is_off_by_default_and_an_event_left_off_sends_none(app, sandbox, jobs_run_here, texter):
    # SMS is on for "wallet funded" only; a failed payment (SMS off) writes no SMS at all.
    sent = notify.notify(texter.id, E.PAYMENT_FAILED, title="Payment failed", body="Refunded.",
                         dedup_key="payment:P1:failed")
    db.session.commit()
    notify.enqueue_pending_emails()
    run_worker()
    assert "sms" not in sent and _rows(texter) == []
    assert _sandbox_sends(sandbox) == []
    assert sms.SmsChannel.name not in notify.enabled_channels(texter.id, E.LOW_BALANCE)


def test_an_event_turned_off_again_sends_no_sms(app, sandbox, texter):
    notify.set_preference(texter.id, E.WALLET_FUNDED, "sms", False)
    db.session.commit()
    assert "sms" not in _fund_notice(texter)
    assert _rows(texter) == []


def test_no_phone_number_no_sms_even_when_chosen(app, resident):
    notify.set_preference(resident.id, E.WALLET_FUNDED, "sms", True)
    db.session.commit()
    assert "sms" not in _fund_notice(resident)
    assert _rows(resident) == []


def test_choosing_sms_without_a_phone_number_is_refused_and_nothing_saved(app, as_resident, resident):
    response = as_resident.post("/notifications/preferences", {"pref": ["wallet_funded:sms", "wallet_funded:in_app"]})
    assert response.status_code == 400
    assert "Add your phone number under SMS settings before choosing SMS" in response.get_data(as_text=True)
    assert notify.enabled_channels(resident.id, E.WALLET_FUNDED) == {"in_app"}


def test_the_preferences_page_offers_sms_per_event(app, as_resident, resident):
    resident.phone = PHONE
    db.session.commit()
    page = as_resident.client.get("/notifications/preferences").get_data(as_text=True)
    assert 'value="wallet_funded:sms"' in page and 'value="payment_succeeded:sms"' in page
    response = as_resident.post("/notifications/preferences", {"pref": ["payment_succeeded:sms"]})
    assert response.status_code == 302
    assert "sms" in notify.enabled_channels(resident.id, E.PAYMENT_SUCCEEDED)


# ---------------------------------------------------------------- the outbox relay

def test_one_sms_per_dedup_key_even_when_the_relay_runs_twice(app, sandbox, jobs_run_here, texter):
    assert "sms" in _fund_notice(texter)
    assert _fund_notice(texter) == []  # the same fact again: nothing new
    notify.enqueue_pending_emails()
    run_worker()  # the job enqueued after commit
    sms_outbox.relay()  # and the periodic relay after it
    threads = [threading.Thread(target=_relay_in_app, args=(app,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [row] = _rows(texter)
    assert row.status == SmsStatus.SENT and row.attempts == 1 and row.provider_message_id
    assert [s["message_id"] for s in _sandbox_sends(sandbox)] == [row.provider_message_id]


def _relay_in_app(app) -> None:
    with app.app_context():
        sms_outbox.relay()


def test_a_claimed_row_is_claimed_once(app, texter):
    _fund_notice(texter)
    [row] = _rows(texter)
    assert sms_outbox.claim() == [row.id]
    assert sms_outbox.claim() == []


def test_a_503_is_retried_after_a_backoff_and_sent_once(app, sandbox, texter):
    texter.phone = UNAVAILABLE_TWICE_PHONE
    db.session.commit()
    with time_machine.travel(datetime(2026, 12, 3, 12, 0, tzinfo=UTC), tick=False) as clock:
        _fund_notice(texter)
        assert sms_outbox.relay().retry
        [row] = _rows(texter)
        assert row.status == SmsStatus.QUEUED and "503" in row.last_error
        assert row.next_attempt_at > datetime(2026, 12, 3, 12, 0, 29, tzinfo=UTC)
        assert sms_outbox.relay().retry == []  # not due yet: nothing is sent
        clock.shift(40)
        assert sms_outbox.relay().retry  # the second 503
        clock.shift(3 * 60)
        assert sms_outbox.relay().sent == [row.id]
    [row] = _rows(texter)
    assert row.status == SmsStatus.SENT and row.attempts == 3
    assert len(_sandbox_sends(sandbox, UNAVAILABLE_TWICE_PHONE)) == 1


def test_a_message_termii_refuses_fails_at_once_and_is_shown(app, sandbox, texter, as_resident):
    app.config["TERMII_SENDER_ID"] = "A"  # Termii takes 3 to 11 characters: a 400
    _fund_notice(texter)
    report = sms_outbox.relay()
    [row] = _rows(texter)
    assert report.failed == [row.id] and row.status == SmsStatus.FAILED and "400" in row.last_error
    assert sms_outbox.relay().sent == [] and _sandbox_sends(sandbox) == []
    page = as_resident.client.get("/notifications/preferences").get_data(as_text=True)
    assert f"SMS to {PHONE} failed: the SMS provider refused it." in page


def test_an_sms_stranded_mid_send_is_failed_not_sent_again(app, sandbox, texter):
    with time_machine.travel(datetime(2026, 12, 3, 12, 0, tzinfo=UTC), tick=False) as clock:
        _fund_notice(texter)
        [claimed] = sms_outbox.claim()  # a relay that died before it called Termii or wrote back
        clock.shift(9 * 60)
        assert sms_outbox.relay().abandoned == []
        clock.shift(2 * 60)
        assert sms_outbox.relay().abandoned == [claimed]
    [row] = _rows(texter)
    assert row.status == SmsStatus.FAILED and "cannot arrive twice" in row.last_error
    assert _sandbox_sends(sandbox) == []


def test_without_termii_settings_sms_wait_in_the_outbox(app, texter):
    app.config["TERMII_API_KEY"] = ""
    _fund_notice(texter)
    assert sms_outbox.relay().sent == []
    [row] = _rows(texter)
    assert row.status == SmsStatus.QUEUED and row.attempts == 0


# ---------------------------------------------------------------- quiet hours

def test_quiet_hours_hold_a_normal_sms_and_let_a_token_through(app, sandbox, texter):
    texter.timezone = "Africa/Lagos"
    texter.sms_quiet_start, texter.sms_quiet_end = 22 * 60, 7 * 60
    notify.set_preference(texter.id, E.PAYMENT_SUCCEEDED, "sms", True)
    db.session.commit()
    account = make_utility_account(texter, make_catalogue_entry(texter.estate))
    payment = make_payment(texter, account, token="26362054764333554021", reference="PAYQUIET0001")
    # 23:30 in Lagos (UTC+1): inside 22:00-07:00.
    with time_machine.travel(datetime(2026, 12, 3, 22, 30, tzinfo=UTC), tick=False) as clock:
        _fund_notice(texter)
        outcomes.succeeded(payment)
        db.session.commit()
        sms_outbox.relay()
        held, token = _rows(texter)
        assert held.status == SmsStatus.QUEUED and not held.urgent
        assert held.next_attempt_at == datetime(2026, 12, 4, 6, 0, tzinfo=UTC)  # 07:00 Lagos
        assert token.urgent and token.status == SmsStatus.SENT and "2636 2054" in token.body
        assert [s["message_id"] for s in _sandbox_sends(sandbox)] == [token.provider_message_id]
        clock.move_to(datetime(2026, 12, 4, 5, 59, tzinfo=UTC))
        assert sms_outbox.relay().sent == []
        clock.move_to(datetime(2026, 12, 4, 6, 0, tzinfo=UTC))
        assert sms_outbox.relay().sent == [held.id]
    assert len(_sandbox_sends(sandbox)) == 2


def test_a_token_bought_by_the_worker_is_texted_at_once_inside_quiet_hours(app, sandbox, jobs_run_here, funded,
                                                                             estate):
    from .payments.helpers import link, pay, prepaid_entry

    lagos = datetime.now(ZoneInfo("Africa/Lagos"))
    minute_now = lagos.hour * 60 + lagos.minute
    funded.timezone = "Africa/Lagos"
    funded.sms_quiet_start, funded.sms_quiet_end = (minute_now - 60) % 1440, (minute_now + 60) % 1440
    notify.set_preference(funded.id, E.PAYMENT_SUCCEEDED, "sms", True)
    db.session.commit()
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "flutterwave"), "1111111111111"))
    run_worker()  # the purchase, then the SMS job its commit enqueued
    [row] = _rows(funded)
    db.session.refresh(payment)
    assert payment.token and row.urgent and row.status == SmsStatus.SENT
    assert " ".join(payment.token_groups) in row.body
    assert [s["message_id"] for s in _sandbox_sends(sandbox)] == [row.provider_message_id]


@pytest.mark.parametrize(("local", "held"), [(time(21, 59), False), (time(22, 0), True), (time(3, 0), True),
                                             (time(6, 59), True), (time(7, 0), False), (time(12, 0), False)])
def test_quiet_hours_spanning_midnight(local, held):
    now = datetime.combine(datetime(2026, 12, 3).date(), local, tzinfo=ZoneInfo("Africa/Lagos"))
    assert (sms.quiet_until(now, "Africa/Lagos", 22 * 60, 7 * 60) is not None) == held


# ---------------------------------------------------------------- delivery reports

@pytest.fixture
def reports_to_the_app(sandbox, live_server):
    sandbox.configure(termii_webhook_url=live_server + "/webhooks/termii", termii_report_delay=0.05)
    return live_server


def test_a_failed_delivery_is_shown_to_the_resident(app, sandbox, jobs_run_here, reports_to_the_app, texter,
                                                    as_resident):
    texter.phone = REJECTED_PHONE
    db.session.commit()
    _fund_notice(texter)
    notify.enqueue_pending_emails()
    run_worker()
    row = wait_until(lambda: next((r for r in _rows(texter) if r.status == SmsStatus.FAILED), None),
                     what="the sandbox's delivery report reaching the app")
    assert row.provider_status == "Rejected" and row.failure_reason == "the network rejected it"
    page = as_resident.client.get("/notifications/preferences").get_data(as_text=True)
    assert f"SMS to {REJECTED_PHONE} failed: the network rejected it." in page


def test_a_delivered_report_in_termiis_sample_form_marks_the_sms_delivered(app, sandbox, reports_to_the_app, texter):
    _fund_notice(texter)
    sms_outbox.relay()
    row = wait_until(lambda: next((r for r in _rows(texter) if r.status == SmsStatus.DELIVERED), None),
                     what="the delivered report")
    assert row.provider_status == "DELIVERED | Message delivered to handset"
    assert sms.recent_failures(texter.id) == []


def _report(message_id: str, status: str = "Rejected") -> dict:
    # The fields of developer.termii.com/events-and-reports' sample.
    return {"type": "outbound", "message_id": message_id, "receiver": "2348031234567", "sender": "Autopay",
            "message": "hello", "sent_at": "2026-12-03 11:34:36", "cost": "3.9", "command": "deliver",
            "status": status, "channel": "dnd"}


@pytest.mark.parametrize("headers", [
    {},  # unsigned
    {termii.SIGNATURE_HEADER: "0" * 128},  # a made-up signature
    {termii.SIGNATURE_HEADER: termii.sign(b"another body", SECRET)},  # a real signature of another body
    "wrong-secret",  # signed with a key that is not ours
], ids=["unsigned", "made-up", "other-body", "wrong-key"])
def test_a_forged_delivery_report_is_refused_and_changes_nothing(app, client, texter, headers):
    row = make_sms(texter)
    raw = json.dumps(_report(row.provider_message_id)).encode()
    if headers == "wrong-secret":
        headers = {termii.SIGNATURE_HEADER: termii.sign(raw, "not-our-secret")}
    response = client.post("/webhooks/termii", data=raw, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    [after] = _rows(texter)
    assert (after.status, after.provider_status, after.failure_reason) == (SmsStatus.SENT, "Successfully Sent", None)


@pytest.mark.parametrize("body", [b"not json", b"[]", json.dumps({"message_id": "", "status": "Rejected"}).encode(),
                                  json.dumps({"message_id": "1", "status": 5}).encode()])
def test_a_signed_but_unreadable_report_is_a_400_and_changes_nothing(app, client, texter, body):
    make_sms(texter)
    headers = {"Content-Type": "application/json", termii.SIGNATURE_HEADER: termii.sign(body, SECRET)}
    response = client.post("/webhooks/termii", data=body, headers=headers)
    assert response.status_code == 400
    assert [r.status for r in _rows(texter)] == [SmsStatus.SENT]


def test_reports_are_refused_when_no_secret_is_configured(app, client, texter):
    app.config["TERMII_WEBHOOK_SECRET"] = ""
    row = make_sms(texter)
    raw, headers = _signed(_report(row.provider_message_id))
    assert client.post("/webhooks/termii", data=raw, headers=headers).status_code == 503
    assert _rows(texter)[0].status == SmsStatus.SENT


def test_a_replayed_or_late_report_never_moves_a_final_sms(app, client, texter):
    row = make_sms(texter)
    raw, headers = _signed(_report(row.provider_message_id, "DND Active on Phone Number"))
    assert client.post("/webhooks/termii", data=raw, headers=headers).get_json()["outcome"] == "failed"
    late, late_headers = _signed(_report(row.provider_message_id, "Delivered"))
    assert client.post("/webhooks/termii", data=late, headers=late_headers).get_json()["outcome"] == "already final"
    [after] = _rows(texter)
    assert after.status == SmsStatus.FAILED and after.failure_reason == "Do-Not-Disturb is active on this number"
    unknown, unknown_headers = _signed(_report("424242"))
    assert client.post("/webhooks/termii", data=unknown, headers=unknown_headers).get_json()["outcome"] == (
        "unknown message")


# ---------------------------------------------------------------- SMS settings

def test_a_phone_number_is_stored_in_e164(app, as_resident, resident):
    response = as_resident.post("/notifications/preferences/sms", {"phone": "0803 123 4567", "quiet_start": "22:00",
                                                                   "quiet_end": "07:00"},
                                page="/notifications/preferences")
    assert response.status_code == 302
    db.session.rollback()
    user = db.session.get(User, resident.id)
    assert (user.phone, user.sms_quiet_start, user.sms_quiet_end) == (PHONE, 22 * 60, 7 * 60)
    assert sms.settings_of(user).quiet_start == time(22, 0)


@pytest.mark.parametrize(("form", "message"), [
    ({"phone": "0803 12"}, "Enter a Nigerian phone number, like 0803 123 4567."),
    ({"phone": "+44 20 7946 0958"}, "Enter a Nigerian phone number, like 0803 123 4567."),
    ({"phone": "call me maybe"}, "Enter a Nigerian phone number, like 0803 123 4567."),
    ({"phone": "0803 123 4567", "quiet_start": "22:00"}, "Give both ends of your quiet hours, or neither."),
    ({"phone": "0803 123 4567", "quiet_start": "22:00", "quiet_end": "22:00"}, "must end at a different time"),
    ({"phone": "0803 123 4567", "quiet_start": "25:99", "quiet_end": "07:00"}, "Not a valid time value"),
])
def test_bad_sms_settings_are_refused_with_a_message_kept_as_typed_and_change_nothing(app, as_resident, resident,
                                                                                     form, message):
    resident.phone = "+2348099999999"
    db.session.commit()
    response = as_resident.post("/notifications/preferences/sms", form, page="/notifications/preferences")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert f'value="{form["phone"]}"' in page
    db.session.rollback()
    user = db.session.get(User, resident.id)
    assert (user.phone, user.sms_quiet_start, user.sms_quiet_end) == ("+2348099999999", None, None)


def test_the_sms_settings_need_a_csrf_token(app, as_resident, resident):
    response = as_resident.client.post("/notifications/preferences/sms", data={"phone": "0803 123 4567"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(User.id)).where(User.phone == PHONE)) == 0


def test_the_sandbox_refuses_a_wrong_key_in_termiis_way(sandbox):
    response = requests.post(sandbox.url + "/termii/api/sms/send", json={"api_key": "nope", "to": "2348031234567",
                             "from": "Autopay", "sms": "x", "type": "plain", "channel": "dnd"}, timeout=5)
    assert response.status_code == 401 and "message" in response.json()
