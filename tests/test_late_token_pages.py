"""Tokens that come after the purchase, as residents see them, and sending a token again.

A payment "with its token on the way" (succeeded, no token yet, the janitor still asking) is built
directly with the factories; the re-send goes through the real route, notifications and outbox.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs import EMAILS, queue
from webapp.models import EmailMessage, Notification
from webapp.models.base import utcnow
from webapp.services import notify

from .factories_payments import make_payment, make_utility_account
from .sql_counting import counted_statements, fetch

ON_ITS_WAY = "we are asking the provider and will send it to you as soon as it arrives"
SENT = "Token sent to your email and inbox"
RESENT_TITLE = "Your token, as you asked"
# One payment's row: the link to its page may sit in any cell (the date links on the history table).
ROW = re.compile(r'<tr>(?:(?!</tr>).)*?<a href="/payments/(\d+)".*?</tr>', re.S)


def token_on_its_way(payment):
    payment.token, payment.units = None, None
    payment.token_next_check_at = utcnow() + timedelta(minutes=2)
    db.session.commit()
    assert payment.token_on_its_way
    return payment


@pytest.fixture
def late_payment(resident, meter):
    return token_on_its_way(make_payment(resident, meter))


@pytest.fixture
def paid(resident, meter):
    payment = make_payment(resident, meter)
    assert payment.token
    return payment


def resend_path(payment) -> str:
    return f"/payments/{payment.id}/resend-token"


@pytest.fixture
def resend(auth, logged_in):
    """Click "send it again" on a payment's page (CSRF token taken from that page)."""
    def click(payment, page=None, **kwargs):
        return auth.post(resend_path(payment), page=page or f"/payments/{payment.id}", **kwargs)

    return click


def resent(user) -> tuple[list[Notification], list[EmailMessage]]:
    db.session.rollback()
    return (list(db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                               Notification.title == RESENT_TITLE))),
            list(db.session.scalars(select(EmailMessage).where(EmailMessage.user_id == user.id,
                                                               EmailMessage.subject == RESENT_TITLE))))


# "Token on its way"

def test_payment_page_says_the_token_is_on_its_way(logged_in, late_payment):
    html = logged_in.get(f"/payments/{late_payment.id}").get_data(as_text=True)
    assert "Token on its way" in html and ON_ITS_WAY in html
    assert 'id="resend-token"' not in html  # nothing to send yet


def test_payment_page_with_its_token_offers_to_send_it_again(logged_in, paid):
    html = logged_in.get(f"/payments/{paid.id}").get_data(as_text=True)
    assert "Token on its way" not in html
    assert f'action="{resend_path(paid)}"' in html and 'id="resend-token"' in html


def test_pay_status_page_says_the_token_is_on_its_way(logged_in, late_payment):
    html = logged_in.get(f"/pay/{late_payment.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Token on its way" in html and ON_ITS_WAY in html


@pytest.mark.parametrize("path", ["/", "/payments/"])
def test_recent_payments_show_a_token_on_its_way_badge(logged_in, resident, meter, late_payment, paid, path):
    html = logged_in.get(path).get_data(as_text=True)
    row_of = {int(m.group(1)): m.group(0) for m in ROW.finditer(html)}
    assert set(row_of) == {late_payment.id, paid.id}
    assert "Token on its way" in row_of[late_payment.id]
    assert "Token on its way" not in row_of[paid.id]


def test_dashboard_costs_no_more_statements_with_tokens_on_their_way(logged_in, resident, meter):
    for _ in range(3):
        make_payment(resident, meter)
    fetch(logged_in, "/")  # warm up
    with counted_statements() as plain:
        fetch(logged_in, "/")
    for _ in range(3):
        token_on_its_way(make_payment(resident, meter))
    fetch(logged_in, "/")
    with counted_statements() as late:
        html = fetch(logged_in, "/").get_data(as_text=True)
    assert html.count("Token on its way") == 3
    assert len(late) == len(plain), "\n".join(late)


# Sending a token again

def test_each_click_sends_one_inbox_message_and_one_email(resend, resident, paid):
    for clicks in (1, 2):
        response = resend(paid)
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/payments/{paid.id}")
        inbox, emails = resent(resident)
        assert (len(inbox), len(emails)) == (clicks, clicks)
    token = " ".join(paid.token_groups)
    assert all(token in n.body for n in inbox) and all(token in e.body_text for e in emails)
    assert {e.to_address for e in emails} == {"ada@example.com"}


def test_after_the_click_the_page_says_it_was_sent_and_the_email_is_queued(resend, logged_in, resident, paid):
    html = resend(paid, follow_redirects=True).get_data(as_text=True)
    assert SENT in html
    _inbox, [email] = resent(resident)
    assert f"email-{email.id}" in queue(EMAILS).job_ids


def test_email_goes_out_even_when_payment_emails_are_turned_off(resend, resident, paid):
    notify.set_preference(resident.id, notify.NotificationEvent.PAYMENT_SUCCEEDED, "email", False)
    db.session.commit()
    assert resend(paid).status_code == 302
    inbox, emails = resent(resident)
    assert (len(inbox), len(emails)) == (1, 1)


def test_htmx_click_gets_the_message_in_place(auth, logged_in, resident, paid):
    token = auth.csrf(f"/payments/{paid.id}")
    response = logged_in.post(resend_path(paid), headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert SENT in response.get_data(as_text=True) and "<html" not in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    assert [len(x) for x in resent(resident)] == [1, 1]


def test_another_residents_payment_is_404_and_sends_nothing(resend, resident, other_resident, power_entry, paid):
    theirs = make_payment(other_resident, make_utility_account(other_resident, power_entry, "45098765432"))
    assert resend(theirs, page=f"/payments/{paid.id}").status_code == 404
    assert resent(other_resident) == ([], []) and resent(resident) == ([], [])


def test_non_numeric_or_missing_payment_id_is_404(auth, logged_in, paid):
    token = auth.csrf(f"/payments/{paid.id}")
    for path in ("/payments/abc/resend-token", "/payments/999999/resend-token"):
        assert logged_in.post(path, data={"csrf_token": token}).status_code == 404


def test_payment_without_a_token_is_400_with_a_clear_message(resend, resident, late_payment):
    response = resend(late_payment)
    assert response.status_code == 400
    assert "This payment has no token to send." in response.get_data(as_text=True)
    assert resent(resident) == ([], [])


def test_clicks_past_the_limit_are_429_with_a_clear_message(resend, resident, paid):
    assert [resend(paid).status_code for _ in range(3)] == [302, 302, 302]
    response = resend(paid)
    assert response.status_code == 429
    assert "asked for tokens to be sent again several times" in response.get_data(as_text=True)
    assert [len(x) for x in resent(resident)] == [3, 3]


def test_limit_is_per_resident(auth, client, resend, resident, other_resident, power_entry, paid):
    for _ in range(3):
        resend(paid)
    assert resend(paid).status_code == 429
    auth.logout()
    auth.login("bola@example.com")
    theirs = make_payment(other_resident, make_utility_account(other_resident, power_entry, "45098765432"))
    assert resend(theirs).status_code == 302


def test_get_is_405_and_sends_nothing(logged_in, resident, paid):
    assert logged_in.get(resend_path(paid)).status_code == 405
    assert resent(resident) == ([], [])


def test_post_without_csrf_token_is_refused(logged_in, resident, paid):
    assert logged_in.post(resend_path(paid)).status_code == 400
    assert resent(resident) == ([], [])


def test_anonymous_visitor_is_sent_to_login(auth, client, resident, paid):
    response = client.post(resend_path(paid), data={"csrf_token": auth.csrf()})
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert resent(resident) == ([], [])
