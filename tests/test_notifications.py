"""Notifications: inbox and email per preferences, once per dedup key, delivered once, and the pages."""
from __future__ import annotations

import asyncio
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from rq import SimpleWorker
from sqlalchemy import event, select

from webapp.extensions import db
from webapp.infra.redis_client import redis_connection
from webapp.jobs import EMAILS, QUEUES, queue
from webapp.models import EmailMessage, Notification, NotificationPreference
from webapp.models.base import utcnow
from webapp.services import notify
from webapp.services.notify import channels as channel_registry
from webapp.services.notify.jobs import deliver_email, deliver_emails
from workers import notification_jobs
from workers.schedule import PERIODIC_JOBS

from . import factories
from .sql_counting import counted_statements

E = notify.NotificationEvent


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture
def config_overrides() -> dict:
    # Development mail by default: no server, the outbox page is on.
    return {"MAIL_SERVER": "", "PUBLIC_BASE_URL": "https://autopay.example"}


class RecordingSMTPHandler:
    """A real SMTP server's handler: keeps what arrives; can refuse every recipient."""

    def __init__(self):
        self.messages = []
        self.refuse_recipients = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def smtp_server():
    handler = RecordingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), loop=asyncio.new_event_loop())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp(app, smtp_server):
    """Point the app at the local SMTP server; returns its handler with an empty mailbag."""
    smtp_server.handler.messages.clear()
    smtp_server.handler.refuse_recipients = False
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_USE_TLS=False,
                      MAIL_USERNAME="", MAIL_PASSWORD="", MAIL_DEFAULT_SENDER="Autopay <no-reply@autopay.example>",
                      MAIL_TIMEOUT_SECONDS=5.0)
    return smtp_server.handler


def send(user, event=E.PAYMENT_SUCCEEDED, key="payment:REF1:succeeded", **fields) -> list[str]:
    """Notify and commit, as a caller would with its own state change."""
    used = notify.notify(user.id, event, title=fields.pop("title", "Electricity paid: ₦5,000.00"),
                         body=fields.pop("body", "Token 1234 5678 9012 3456 7890, 42.5 kWh."),
                         link=fields.pop("link", "/payments/1"), dedup_key=key)
    db.session.commit()
    return used


def inbox_rows(user) -> list[Notification]:
    db.session.commit()  # end this session's read snapshot so workers' commits are visible
    return db.session.scalars(select(Notification).where(Notification.user_id == user.id)).all()


def emails(user=None) -> list[EmailMessage]:
    db.session.commit()  # end this session's read snapshot so workers' commits are visible
    query = select(EmailMessage).order_by(EmailMessage.id)
    if user is not None:
        query = query.where(EmailMessage.user_id == user.id)
    return db.session.scalars(query).all()


def run_rq_worker() -> None:
    conn = redis_connection()
    SimpleWorker([queue(name) for name in QUEUES], connection=conn).work(burst=True, with_scheduler=False)


@pytest.fixture
def logged_in(auth, resident):
    auth.login("ada@example.com")
    return auth.client


# ---------------------------------------------------------------- notify: channels, preferences, dedup

def test_an_event_with_email_on_by_default_writes_the_inbox_and_the_outbox(resident):
    assert send(resident, E.PAYMENT_SUCCEEDED) == ["in_app", "email"]
    [row] = inbox_rows(resident)
    assert (row.event, row.title, row.link, row.read_at) == ("payment_succeeded", "Electricity paid: ₦5,000.00",
                                                             "/payments/1", None)
    [mail] = emails(resident)
    assert (mail.to_address, mail.subject, mail.status) == ("ada@example.com", "Electricity paid: ₦5,000.00", "queued")
    assert "Token 1234 5678 9012 3456 7890" in mail.body_text
    assert "https://autopay.example/payments/1" in mail.body_text
    assert mail.dedup_key == "payment:REF1:succeeded:email"


def test_an_event_with_email_off_by_default_writes_only_the_inbox(resident):
    assert send(resident, E.WALLET_FUNDED, key="funding:F1:credited") == ["in_app"]
    assert len(inbox_rows(resident)) == 1
    assert emails(resident) == []


def test_email_turned_off_sends_no_email_but_still_fills_the_inbox(resident):
    notify.set_preference(resident.id, E.PAYMENT_FAILED, "email", False)
    assert send(resident, E.PAYMENT_FAILED, key="payment:REF2:failed") == ["in_app"]
    assert emails(resident) == []
    assert len(inbox_rows(resident)) == 1


def test_in_app_turned_off_sends_nothing_to_the_inbox(resident):
    notify.set_preference(resident.id, E.LOW_BALANCE, "in_app", False)
    assert send(resident, E.LOW_BALANCE, key="low:1") == ["email"]
    assert inbox_rows(resident) == []


def test_email_turned_on_for_an_event_that_defaults_off(resident):
    notify.set_preference(resident.id, E.WALLET_FUNDED, "email", True)
    assert send(resident, E.WALLET_FUNDED, key="funding:F2:credited") == ["in_app", "email"]


def test_the_same_dedup_key_sends_once_on_each_channel(resident):
    assert send(resident, key="payment:REF3:succeeded") == ["in_app", "email"]
    assert send(resident, key="payment:REF3:succeeded") == []
    assert len(inbox_rows(resident)) == 1
    assert len(emails(resident)) == 1


def test_two_racing_writers_with_one_dedup_key_notify_once(app, resident, require_postgres):
    barrier, user_id = threading.Barrier(2), resident.id

    def writer() -> list[str]:
        with app.app_context():
            barrier.wait()
            used = notify.notify(user_id, E.PAYMENT_FAILED, title="Failed", body="b", dedup_key="race")
            db.session.commit()
            return used

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: writer(), range(2)))
    assert sorted(results) == [[], ["in_app", "email"]]
    assert len(inbox_rows(resident)) == 1 and len(emails(resident)) == 1


def test_a_notification_rolls_back_with_the_callers_transaction(resident):
    notify.notify(resident.id, E.PAYMENT_FAILED, title="Failed", body="b", dedup_key="payment:REF4:failed")
    db.session.rollback()
    assert inbox_rows(resident) == [] and emails(resident) == []
    assert notify.enqueue_pending_emails() == 0


def test_the_choices_of_many_people_read_at_once_match_each_read_alone(resident, other_resident):
    notify.set_preference(resident.id, E.PAYMENT_SUCCEEDED, "email", False)
    notify.set_preference(other_resident.id, E.PAYMENT_FAILED, "in_app", False)
    notify.set_preference(other_resident.id, E.LOW_BALANCE, "email", False)  # an event not asked for
    db.session.commit()
    events = (E.PAYMENT_SUCCEEDED, E.PAYMENT_FAILED)
    together = notify.recipients([resident, other_resident], events)
    alone = {(user.id, event): notify.recipient(user.id, event) for user in (resident, other_resident)
             for event in events}
    assert together == alone
    assert together[(resident.id, E.PAYMENT_SUCCEEDED)].channels == {"in_app"}
    assert together[(other_resident.id, E.PAYMENT_FAILED)].channels == {"email"}


def test_email_is_enqueued_only_after_the_commit_that_wrote_it(resident):
    notify.notify(resident.id, E.PAYMENT_FAILED, title="Failed", body="b", dedup_key="payment:REF5:failed")
    assert notify.enqueue_pending_emails() == 0, "nothing is enqueued before commit"
    db.session.commit()
    assert notify.enqueue_pending_emails() == 1
    [mail] = emails(resident)
    assert queue(EMAILS).fetch_job(f"email-{mail.id}") is not None


def test_the_emails_of_one_commit_go_out_in_one_job_each_once(resident, smtp, jobs_run_here):
    for n in range(3):
        notify.notify(resident.id, E.PAYMENT_FAILED, title=f"Failed {n}", body="b", dedup_key=f"payment:B{n}:failed")
    db.session.commit()
    assert notify.enqueue_pending_emails() == 3
    mails = emails(resident)
    assert queue(EMAILS).job_ids == [f"emails-{min(mail.id for mail in mails)}"]
    assert deliver_emails([mail.id for mail in mails]) == "3 sent"
    assert deliver_emails([mail.id for mail in mails]) == "3 skipped"  # the job run again sends nothing twice
    assert sorted(message["Subject"] for message in smtp.messages) == ["Failed 0", "Failed 1", "Failed 2"]


@pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "payments/1"])
def test_links_must_stay_inside_the_app(resident, link):
    with pytest.raises(notify.NotificationError, match="link"):
        notify.notify(resident.id, E.PAYMENT_FAILED, title="t", body="b", link=link, dedup_key="k")


def test_a_title_is_one_line_so_it_cannot_inject_email_headers(resident):
    send(resident, title="Paid\r\nBcc: everyone@example.com")
    assert emails(resident)[0].subject == "Paid Bcc: everyone@example.com"


def test_an_unknown_event_is_refused(resident):
    with pytest.raises(notify.NotificationError, match="unknown notification event"):
        notify.notify(resident.id, "payment_exploded", title="t", body="b", dedup_key="k")


class RecordingSMSChannel(notify.Channel):
    name = "sms"
    label = "SMS"

    def __init__(self):
        self.sent = []

    def send(self, user, message):
        self.sent.append((user.id, message.dedup_key))
        return True


def test_a_new_channel_is_one_class_and_a_registry_entry_and_starts_off(resident, monkeypatch):
    sms = RecordingSMSChannel()
    monkeypatch.setitem(channel_registry._REGISTRY, "sms", sms)
    assert send(resident, E.PAYMENT_FAILED, key="payment:REF6:failed") == ["in_app", "email"]
    notify.set_preference(resident.id, E.PAYMENT_FAILED, "sms", True)
    assert send(resident, E.PAYMENT_FAILED, key="payment:REF7:failed") == ["in_app", "email", "sms"]
    assert sms.sent == [(resident.id, "payment:REF7:failed")]


# ---------------------------------------------------------------- email delivery

def test_without_a_mail_server_a_batch_of_mail_is_kept_in_the_outbox_by_one_statement(resident, jobs_run_here):
    for n in range(4):
        notify.notify(resident.id, E.PAYMENT_FAILED, title=f"Failed {n}", body="b", dedup_key=f"payment:K{n}:failed")
    db.session.commit()
    ids = [mail.id for mail in emails(resident)]
    db.session.rollback()
    with counted_statements() as seen:
        assert deliver_emails(ids) == "4 sent"
    assert [s.split()[0] for s in seen if "email_messages" in s] == ["UPDATE"], seen
    assert deliver_emails(ids) == "4 skipped"
    assert {(mail.status, mail.transport, mail.attempts) for mail in emails(resident)} == {("sent", "outbox", 1)}


def test_an_smtp_batch_with_a_server_that_stops_requeues_only_what_was_not_sent(app, resident, smtp, jobs_run_here):
    for n in range(2):
        notify.notify(resident.id, E.PAYMENT_FAILED, title=f"Failed {n}", body="b", dedup_key=f"payment:M{n}:failed")
    db.session.commit()
    first, second = sorted(mail.id for mail in emails(resident))
    db.session.rollback()
    assert deliver_emails([first]) == "1 sent"
    app.config.update(MAIL_PORT=_free_port(), MAIL_TIMEOUT_SECONDS=2.0)  # the server goes away
    with pytest.raises(notify.EmailDeliveryError, match="1 of 2 emails to retry later"):
        deliver_emails([first, second])
    statuses = {mail.id: (mail.status, mail.attempts) for mail in emails(resident)}
    assert statuses == {first: ("sent", 1), second: ("queued", 1)}
    assert len(smtp.messages) == 1


def test_without_a_mail_server_the_job_keeps_mail_in_the_outbox_once_even_when_run_twice(resident, jobs_run_here):
    send(resident)
    [mail] = emails(resident)
    assert deliver_email(mail.id) == "sent"
    assert deliver_email(mail.id) == "skipped"
    [mail] = emails(resident)
    assert (mail.status, mail.transport, mail.attempts) == ("sent", "outbox", 1)
    assert mail.sent_at is not None


def test_smtp_delivery_arrives_once_even_when_the_job_runs_twice(resident, smtp, jobs_run_here):
    send(resident)
    [mail] = emails(resident)
    assert deliver_email(mail.id) == "sent"
    assert deliver_email(mail.id) == "skipped"
    [arrived] = smtp.messages
    assert arrived["To"] == "ada@example.com"
    assert arrived["Subject"] == "Electricity paid: ₦5,000.00"
    assert arrived["From"] == "Autopay <no-reply@autopay.example>"
    assert "Token 1234 5678 9012 3456 7890" in arrived.get_content()
    assert emails(resident)[0].transport == "smtp"


def test_a_replayed_notification_and_a_doubled_job_through_rq_deliver_one_email(resident, smtp, jobs_run_here):
    send(resident, key="payment:REF8:succeeded")
    assert notify.enqueue_pending_emails() == 1
    send(resident, key="payment:REF8:succeeded")  # the replay writes nothing
    assert notify.enqueue_pending_emails() == 0
    [mail] = emails(resident)
    deliver_email.enqueue(mail.id)  # a duplicate
    run_rq_worker()
    assert len(smtp.messages) == 1
    assert emails(resident)[0].status == "sent"


def test_a_refused_recipient_fails_for_good_without_retrying(resident, smtp, jobs_run_here):
    smtp.refuse_recipients = True
    send(resident)
    [mail] = emails(resident)
    assert deliver_email(mail.id) == "failed"
    [mail] = emails(resident)
    assert mail.status == "failed" and "550" in mail.last_error
    assert smtp.messages == []


def test_a_mail_server_that_is_down_leaves_the_message_queued_with_a_backoff(app, resident, jobs_run_here):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False, MAIL_TIMEOUT_SECONDS=2.0)
    send(resident)
    [mail] = emails(resident)
    with pytest.raises(notify.EmailDeliveryError):
        deliver_email(mail.id)
    [mail] = emails(resident)
    assert (mail.status, mail.attempts) == ("queued", 1)
    assert "ConnectionRefusedError" in mail.last_error
    assert mail.next_attempt_at > utcnow() + timedelta(seconds=30)
    assert deliver_email(mail.id) == "skipped", "not retried before its backoff"


def test_the_last_allowed_attempt_gives_up(app, resident, jobs_run_here):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False, MAIL_MAX_ATTEMPTS=1)
    send(resident)
    with pytest.raises(notify.EmailDeliveryError):
        deliver_email(emails(resident)[0].id)
    [mail] = emails(resident)
    assert mail.status == "failed" and mail.last_error.startswith("gave up after 1 attempts")


def test_the_periodic_sender_delivers_mail_whose_enqueue_was_missed(resident, smtp, jobs_run_here):
    send(resident, key="a")
    send(resident, E.PAYMENT_FAILED, key="b")
    assert notification_jobs.deliver_queued_emails().startswith("sent 2,")
    assert len(smtp.messages) == 2
    assert notification_jobs.deliver_queued_emails().startswith("sent 0,")
    assert len(smtp.messages) == 2


def test_a_message_abandoned_mid_send_is_marked_failed_never_resent(resident, smtp, jobs_run_here):
    send(resident)
    mail = emails(resident)[0]
    mail.status, mail.claimed_at, mail.attempts = "sending", utcnow() - timedelta(hours=1), 1
    db.session.commit()
    assert "abandoned mid-send 1" in notification_jobs.deliver_queued_emails()
    assert emails(resident)[0].status == "failed"
    assert smtp.messages == []


def test_without_a_mail_server_the_periodic_sender_keeps_what_is_due_in_the_outbox_at_once(resident, jobs_run_here):
    for n in range(3):
        notify.notify(resident.id, E.PAYMENT_FAILED, title=f"Failed {n}", body="b", dedup_key=f"payment:P{n}:failed")
    db.session.commit()  # their enqueue "missed"
    later = emails(resident)[-1]
    later.next_attempt_at = utcnow() + timedelta(hours=1)  # waiting out a backoff: not due yet
    db.session.commit()
    assert notification_jobs.deliver_queued_emails().startswith("sent 2,")
    assert sorted(mail.status for mail in emails(resident)) == ["queued", "sent", "sent"]


def test_the_periodic_sender_is_in_the_schedule():
    [job] = [j for j in PERIODIC_JOBS if j.name == "deliver-emails"]
    assert job.func is notification_jobs.deliver_queued_emails and job.interval == 60


# ---------------------------------------------------------------- inbox pages

ITEM_TITLES = re.compile(r'id="notification-\d+-title">\s*(?:<span class="badge[^"]*">Unread</span> )?'
                         r'(?:<strong>)?([^<]+)')


def titles_on(response) -> list[str]:
    assert response.status_code == 200
    return [t.strip() for t in ITEM_TITLES.findall(response.get_data(as_text=True))]


def test_the_inbox_needs_a_signed_in_person(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_inbox_lists_newest_first_twenty_to_a_page(logged_in, resident):
    for n in range(1, 26):
        notify.notify(resident.id, E.PAYMENT_UPCOMING, title=f"Reminder {n}", body="Soon.", dedup_key=f"r{n}")
    db.session.commit()
    assert titles_on(logged_in.get("/notifications/")) == [f"Reminder {n}" for n in range(25, 5, -1)]
    page_two = logged_in.get("/notifications/?page=2", headers={"HX-Request": "true"})
    assert titles_on(page_two) == [f"Reminder {n}" for n in range(5, 0, -1)]
    assert "<html" not in page_two.get_data(as_text=True), "HTMX gets the list region only"


def test_the_inbox_shows_only_my_notifications(logged_in, resident, other_resident):
    send(resident, key="mine", title="Mine")
    send(other_resident, key="theirs", title="Theirs")
    assert titles_on(logged_in.get("/notifications/")) == ["Mine"]


def test_unread_notifications_say_so_in_words(logged_in, resident):
    send(resident)
    assert 'class="badge badge-pending">Unread</span>' in logged_in.get("/notifications/").get_data(as_text=True)


def test_marking_one_as_read(logged_in, auth, resident):
    send(resident)
    [row] = inbox_rows(resident)
    response = auth.post(f"/notifications/{row.id}/read", page="/notifications/")
    assert response.status_code == 302
    assert inbox_rows(resident)[0].read_at is not None


def test_marking_one_as_read_over_htmx_returns_the_entry_and_the_new_badge(logged_in, auth, resident):
    send(resident, key="a")
    send(resident, key="b")
    row = inbox_rows(resident)[0]
    response = auth.post(f"/notifications/{row.id}/read", page="/notifications/", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert f'id="notification-{row.id}"' in html and ">Unread<" not in html
    assert 'hx-swap-oob="true"' in html and 'aria-label="Notifications, 1 unread"' in html


def test_another_persons_notification_cannot_be_marked_read(logged_in, auth, other_resident):
    send(other_resident)
    [theirs] = inbox_rows(other_resident)
    assert auth.post(f"/notifications/{theirs.id}/read", page="/notifications/").status_code == 404
    assert auth.post(f"/notifications/{theirs.id}/open", page="/notifications/").status_code == 404
    assert inbox_rows(other_resident)[0].read_at is None


def test_opening_a_notification_reads_it_and_follows_its_link(logged_in, auth, resident):
    send(resident, link="/payments/42")
    [row] = inbox_rows(resident)
    response = auth.post(f"/notifications/{row.id}/open", page="/notifications/")
    assert response.status_code == 302 and response.headers["Location"] == "/payments/42"
    assert inbox_rows(resident)[0].read_at is not None


def test_marking_all_as_read_touches_only_mine(logged_in, auth, resident, other_resident):
    for n in range(3):
        send(resident, key=f"m{n}")
    send(other_resident, key="o")
    response = auth.post("/notifications/read-all", page="/notifications/", follow_redirects=True)
    assert "Marked 3 notifications as read." in response.get_data(as_text=True)
    assert all(r.read_at is not None for r in inbox_rows(resident))
    assert inbox_rows(other_resident)[0].read_at is None


def test_the_nav_badge_counts_unread(logged_in, resident):
    send(resident, key="a")
    send(resident, key="b")
    html = logged_in.get("/").get_data(as_text=True)
    assert 'aria-label="Notifications, 2 unread"' in html


@pytest.fixture
def notification_queries(app):
    """SQL statements that touch the notifications table, recorded while a test runs."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\bnotifications\b", statement):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_the_nav_badge_costs_one_count_query_per_page(logged_in, resident, notification_queries):
    for n in range(5):
        send(resident, key=f"k{n}")
    notification_queries.clear()
    assert logged_in.get("/").status_code == 200
    assert len(notification_queries) == 1 and "count(" in notification_queries[0].lower()


def test_estate_admins_have_an_inbox_too(auth, estate_admin):
    send(estate_admin, E.PAYMENT_HELD, key="held:1", title="A payment waits for review")
    auth.login("admin@example.com")
    assert titles_on(auth.client.get("/notifications/")) == ["A payment waits for review"]


# ---------------------------------------------------------------- preferences page

def saved_preferences(user) -> dict[tuple[str, str], bool]:
    db.session.commit()  # end this session's read snapshot so workers' commits are visible
    return {(p.event, p.channel): p.enabled for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id))}


def test_the_preferences_page_shows_the_defaults_as_ticked_boxes(logged_in):
    html = logged_in.get("/notifications/preferences").get_data(as_text=True)
    assert re.search(r'value="payment_failed:email"[^>]*checked', html)
    assert not re.search(r'value="wallet_funded:email"[^>]*checked', html)
    assert '<label for="pref-payment_failed-email">' in html
    assert '<th scope="row" id="event-payment_failed">' in html


def test_preferences_round_trip(logged_in, auth, resident):
    response = auth.post("/notifications/preferences", {"pref": ["payment_failed:in_app", "wallet_funded:email"]})
    assert response.status_code == 302
    saved = saved_preferences(resident)
    assert saved[("payment_failed", "email")] is False and saved[("wallet_funded", "email")] is True
    html = logged_in.get("/notifications/preferences").get_data(as_text=True)
    assert re.search(r'value="wallet_funded:email"[^>]*checked', html)
    assert not re.search(r'value="payment_failed:email"[^>]*checked', html)
    assert send(resident, E.PAYMENT_FAILED, key="after-save") == ["in_app"]


@pytest.mark.parametrize("bad", ["payment_exploded:email", "payment_failed:carrier_pigeon", "payment_failed"])
def test_preferences_naming_unknown_events_or_channels_are_refused_and_nothing_changes(logged_in, auth, resident,
                                                                                       bad):
    response = auth.post("/notifications/preferences", {"pref": ["wallet_funded:email", bad]})
    assert response.status_code == 400
    assert "Nothing was changed." in response.get_data(as_text=True)
    assert saved_preferences(resident) == {}


# ---------------------------------------------------------------- development outbox

def test_the_outbox_shows_a_resident_their_own_mail(logged_in, resident, other_resident):
    send(resident, key="mine", title="For Ada")
    send(other_resident, key="theirs", title="For Bola")
    html = logged_in.get("/notifications/outbox").get_data(as_text=True)
    assert "For Ada" in html and "ada@example.com" in html
    assert "For Bola" not in html


def test_the_outbox_shows_an_estate_admin_their_estates_mail_only(auth, estate_admin, resident):
    elsewhere = factories.make_user(email="chidi@example.com")
    send(resident, key="here", title="For Ada")
    send(elsewhere, key="there", title="For Chidi")
    auth.login("admin@example.com")
    html = auth.client.get("/notifications/outbox").get_data(as_text=True)
    assert "For Ada" in html and "For Chidi" not in html


def test_the_outbox_is_hidden_when_a_mail_server_is_set(app, logged_in):
    app.config["MAIL_SERVER"] = "smtp.example.com"
    assert logged_in.get("/notifications/outbox").status_code == 404
    assert "Development outbox" not in logged_in.get("/notifications/").get_data(as_text=True)

