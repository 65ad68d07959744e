"""The token vault (/tokens/): every electricity token a resident bought, per meter, newest first.

Rows are built with the factories, except where the provider's answer matters: key change tokens
and a late token go through the real worker, the sandbox over HTTP and the janitor.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import EmailMessage, Notification, Payment, SmsMessage
from webapp.models.base import utcnow
from webapp.sandbox import customers
from webapp.services import payments

from .factories_payments import make_payment, make_utility_account
from .payments.helpers import link, pay, prepaid_entry, reload, run_worker
from .sql_counting import counted_statements, fetch

VAULT = "/tokens/"
RESENT_TITLE = "Your token, as you asked"
ENTRY = re.compile(r'<li class="card vault-entry" id="vault-token-(\d+)"')
ON_ITS_WAY = "Token on its way"
NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def grouped(token: str) -> str:
    return " ".join(token[i:i + 4] for i in range(0, len(token), 4))


def entries(html: str) -> list[int]:
    return [int(i) for i in ENTRY.findall(html)]


def vault(client, query: str = "", **kwargs) -> str:
    response = client.get(VAULT + query, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def token_of(n: int) -> str:
    return f"{n:020d}"


@pytest.fixture
def second_meter(resident, power_entry):
    return make_utility_account(resident, power_entry, "45011112222", nickname="Boys' quarters")


@pytest.fixture
def theirs(other_resident, power_entry):
    return make_payment(other_resident, make_utility_account(other_resident, power_entry, "45098765432"),
                        token=token_of(99))


def resent(user) -> tuple[int, int]:
    db.session.rollback()
    inbox = db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                          Notification.title == RESENT_TITLE)).all()
    emails = db.session.scalars(select(EmailMessage).where(EmailMessage.user_id == user.id,
                                                           EmailMessage.subject == RESENT_TITLE)).all()
    return len(inbox), len(emails)


# -- the list --------------------------------------------------------------------------------------

def test_owner_sees_every_token_newest_first_with_units_amount_and_groups(logged_in, resident, meter):
    now = utcnow()
    old = make_payment(resident, meter, token=token_of(1), units="12.5 kWh", amount_kobo=2_500_00,
                       created_at=now - timedelta(days=3))
    new = make_payment(resident, meter, token=token_of(2), units="40.1 kWh", amount_kobo=8_000_00,
                       created_at=now - timedelta(hours=1))
    make_payment(resident, meter, status="failed")
    make_payment(resident, meter, vends_token=False)  # a postpaid-like success: nothing to keep
    html = vault(logged_in)
    assert entries(html) == [new.id, old.id]
    assert grouped(token_of(2)) in html and "40.1 kWh" in html and "₦8,000.00" in html
    assert f'data-copy="{token_of(2)}"' in html
    assert "2 tokens." in html


def test_meter_filter_shows_one_meter_and_keeps_the_choice(logged_in, resident, meter, second_meter):
    mine = make_payment(resident, meter, token=token_of(1))
    other = make_payment(resident, second_meter, token=token_of(2))
    html = vault(logged_in, f"?meter={second_meter.id}")
    assert entries(html) == [other.id] and mine.id not in entries(html)
    assert f'<option value="{second_meter.id}" selected' in html


@pytest.mark.parametrize("meter_arg", ["abc", "-1", "999999", "1e3", "9" * 40])
def test_a_meter_that_is_not_yours_is_ignored_with_a_message(logged_in, resident, meter, meter_arg):
    payment = make_payment(resident, meter, token=token_of(1))
    html = vault(logged_in, f"?meter={meter_arg}")
    assert "Choose one of your own meters. The meter filter was ignored." in html
    assert entries(html) == [payment.id]


def test_another_residents_meter_id_is_ignored_like_any_unknown_id(logged_in, resident, meter, theirs):
    mine = make_payment(resident, meter, token=token_of(1))
    html = vault(logged_in, f"?meter={theirs.utility_account_id}")
    assert "The meter filter was ignored." in html
    assert entries(html) == [mine.id] and grouped(token_of(99)) not in html


def test_pages_of_twenty_newest_first(logged_in, resident, meter):
    now = utcnow()
    made = [make_payment(resident, meter, token=token_of(n), created_at=now - timedelta(minutes=n))
            for n in range(25)]
    first, second = vault(logged_in), vault(logged_in, "?page=2")
    assert entries(first) == [p.id for p in made[:20]] and entries(second) == [p.id for p in made[20:]]
    assert 'href="/tokens/?page=2"' in first
    assert entries(vault(logged_in, "?page=abc")) == entries(first)


def test_htmx_filter_gets_the_results_alone(logged_in, resident, meter):
    make_payment(resident, meter, token=token_of(1))
    response = logged_in.get(VAULT, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="vault-count"' in html
    assert "HX-Request" in response.headers["Vary"]


def test_another_resident_sees_none_of_mine(auth, client, resident, meter, other_resident):
    make_payment(resident, meter, token=token_of(1))
    auth.login(other_resident.email)
    html = vault(client)
    assert entries(html) == [] and grouped(token_of(1)) not in html


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(VAULT)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_home_latest_tokens_card_links_the_vault(logged_in, resident, meter):
    make_payment(resident, meter, token=token_of(1))
    html = logged_in.get("/").get_data(as_text=True)
    assert 'href="/tokens/" id="all-tokens"' in html


# -- late tokens and key change tokens, through the real worker and sandbox -----------------------

@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def janitor(sandbox):
    start = utcnow()

    def run(after: timedelta):
        sandbox.configure(clock_offset_seconds=after.total_seconds())
        return payments.run_janitor(start + after)

    return run


def test_a_late_token_shows_on_its_way_then_itself_once_it_arrives(funded, estate, logged_in, janitor):
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), customers.TOKEN_LATER))
    run_worker()
    payment = reload(payment)
    assert payment.status == "succeeded" and payment.token_on_its_way
    html = vault(logged_in)
    assert entries(html) == [payment.id] and ON_ITS_WAY in html
    assert f'id="email-token-{payment.id}"' not in html and f'id="mark-used-{payment.id}"' not in html
    janitor(timedelta(minutes=3))  # the 1st status check: not yet
    assert ON_ITS_WAY in vault(logged_in)
    janitor(timedelta(minutes=10))  # the 2nd: here it is
    payment = reload(payment)
    assert payment.token and payment.token_received_at
    html = vault(logged_in)
    assert ON_ITS_WAY not in html and grouped(payment.token) in html and f'id="mark-used-{payment.id}"' in html


def test_key_change_tokens_are_kept_and_shown_kct1_kct2_then_the_token(funded, estate, logged_in):
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), customers.KEY_CHANGE_METER))
    run_worker()
    payment = reload(payment)
    kct1, kct2 = customers.key_change_tokens_for(payment.reference)
    assert payment.status == "succeeded" and payment.key_change_tokens == [kct1, kct2] and payment.token
    stored = db.session.execute(text("SELECT key_change_token_1 FROM payments WHERE id = :id"),
                                {"id": payment.id}).scalar_one()
    assert kct1 not in stored  # encrypted at rest
    for html in (vault(logged_in), logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)):
        positions = [html.index(grouped(value)) for value in (kct1, kct2, payment.token)]
        assert positions == sorted(positions), "KCT1, then KCT2, then the token"
        assert "needs a key change first" in html and "KCT1, then KCT2, then the token" in html
    note = db.session.scalars(select(Notification).where(Notification.user_id == funded.id,
                                                         Notification.title == "Payment succeeded")).one()
    assert note.body.index(grouped(kct1)) < note.body.index(grouped(kct2))


def test_an_ordinary_meter_has_no_key_change_section(logged_in, resident, meter):
    payment = make_payment(resident, meter, token=token_of(1))
    assert "key change" not in vault(logged_in)
    assert "key change" not in logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)


# -- mark used ------------------------------------------------------------------------------------

@pytest.fixture
def paid(logged_in, resident, meter):
    return make_payment(resident, meter, token=token_of(7))


def used_path(payment) -> str:
    return f"/tokens/{payment.id}/used"


def used_at(payment):
    db.session.rollback()
    return db.session.get(Payment, payment.id).token_used_at


def test_mark_used_stores_when_and_keeps_the_first_time(auth, logged_in, paid):
    with time_machine.travel(NOON, tick=False):
        response = auth.post(used_path(paid), {"used": "yes"}, page=VAULT)
    assert response.status_code == 302 and response.headers["Location"].endswith("/tokens/")
    assert used_at(paid) == NOON
    with time_machine.travel(NOON + timedelta(days=1), tick=False):
        auth.post(used_path(paid), {"used": "yes"}, page=VAULT)
    assert used_at(paid) == NOON
    html = vault(logged_in)
    assert "badge-succeeded\">Used" in html and "Mark not used" in html


def test_mark_not_used_takes_it_back(auth, paid):
    auth.post(used_path(paid), {"used": "yes"}, page=VAULT)
    auth.post(used_path(paid), {"used": "no"}, page=VAULT)
    assert used_at(paid) is None


def test_htmx_mark_used_swaps_the_entrys_status_in_place(auth, logged_in, paid):
    token = auth.csrf(VAULT)
    response = logged_in.post(used_path(paid), data={"used": "yes"},
                              headers={"HX-Request": "true", "X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert f'id="vault-status-{paid.id}"' in html and "Mark not used" in html
    assert used_at(paid) is not None


def test_non_htmx_mark_used_goes_back_to_the_same_meter_and_page(auth, paid, meter):
    response = auth.post(used_path(paid), {"used": "yes", "meter": str(meter.id), "page": "2"}, page=VAULT)
    assert response.headers["Location"].endswith(f"/tokens/?meter={meter.id}&page=2")
    response = auth.post(used_path(paid), {"used": "yes", "meter": "https://evil.example", "page": "x"}, page=VAULT)
    assert response.headers["Location"].endswith("/tokens/")


@pytest.mark.parametrize("data", [{"used": "maybe"}, {}, {"used": ""}, {"used": "yes" * 100}])
def test_a_bad_used_value_is_400_with_a_message_and_changes_nothing(auth, paid, data):
    response = auth.post(used_path(paid), data, page=VAULT)
    assert response.status_code == 400
    assert "choose “Used” or “Not used”. Nothing was changed." in response.get_data(as_text=True)
    assert used_at(paid) is None


def test_mark_used_without_csrf_is_refused(logged_in, paid):
    assert logged_in.post(used_path(paid), data={"used": "yes"}).status_code == 400
    assert used_at(paid) is None


def test_mark_used_on_a_token_still_on_its_way_is_400(auth, logged_in, resident, meter):
    late = make_payment(resident, meter, vends_token=False, token_next_check_at=utcnow() + timedelta(minutes=5))
    response = auth.post(used_path(late), {"used": "yes"}, page=VAULT)
    assert response.status_code == 400 and "has not arrived yet" in response.get_data(as_text=True)
    assert used_at(late) is None


def test_another_residents_token_is_404_and_unchanged(auth, logged_in, theirs):
    for path in (used_path(theirs), f"/tokens/{theirs.id}/email"):
        assert auth.post(path, {"used": "yes"}, page=VAULT).status_code == 404
    assert used_at(theirs) is None and resent(theirs.user) == (0, 0)


@pytest.mark.parametrize("path", ["/tokens/abc/used", "/tokens/999999/used", "/tokens/0/email"])
def test_unknown_ids_are_404(auth, logged_in, path):
    assert auth.post(path, {"used": "yes"}, page=VAULT).status_code == 404


def test_get_on_actions_is_405(logged_in, paid):
    assert logged_in.get(used_path(paid)).status_code == 405
    assert logged_in.get(f"/tokens/{paid.id}/email").status_code == 405


# -- the validity warning --------------------------------------------------------------------------

WARNING = "not marked used"


@pytest.mark.parametrize(("age_days", "warned"), [(89, False), (91, True)])
def test_an_old_unused_token_is_warned_about(logged_in, resident, meter, age_days, warned):
    with time_machine.travel(NOON - timedelta(days=age_days), tick=False):
        make_payment(resident, meter, token=token_of(1), completed_at=utcnow())
    with time_machine.travel(NOON, tick=False):
        html = vault(logged_in)
    assert (WARNING in html) is warned
    assert ("Bought over 90 days ago" in html) is warned


def test_a_used_token_is_never_warned_about(logged_in, auth, resident, meter):
    with time_machine.travel(NOON - timedelta(days=200), tick=False):
        payment = make_payment(resident, meter, token=token_of(1), completed_at=utcnow())
    with time_machine.travel(NOON, tick=False):
        auth.post(used_path(payment), {"used": "yes"}, page=VAULT)
        assert WARNING not in vault(logged_in)


def test_a_late_token_counts_from_when_it_arrived(logged_in, resident, meter):
    with time_machine.travel(NOON - timedelta(days=120), tick=False):
        payment = make_payment(resident, meter, token=token_of(1), completed_at=utcnow())
    payment.token_received_at = NOON - timedelta(days=10)
    db.session.commit()
    with time_machine.travel(NOON, tick=False):
        assert WARNING not in vault(logged_in)


@pytest.mark.parametrize("config_overrides", [{"TOKEN_VALIDITY_DAYS": 7}])
def test_the_validity_period_is_a_setting(logged_in, resident, meter):
    with time_machine.travel(NOON - timedelta(days=8), tick=False):
        make_payment(resident, meter, token=token_of(1), completed_at=utcnow())
    with time_machine.travel(NOON, tick=False):
        assert "Bought over 7 days ago" in vault(logged_in)


# -- email me this token ---------------------------------------------------------------------------

def email_path(payment) -> str:
    return f"/tokens/{payment.id}/email"


def test_each_click_sends_one_email_and_one_inbox_message(auth, resident, paid):
    for clicks in (1, 2):
        response = auth.post(email_path(paid), page=VAULT)
        assert response.status_code == 302 and response.headers["Location"].endswith("/tokens/")
        assert resent(resident) == (clicks, clicks)
    db.session.rollback()
    email = db.session.scalars(select(EmailMessage).where(EmailMessage.subject == RESENT_TITLE)).first()
    assert grouped(paid.token) in email.body_text and email.to_address == resident.email


def test_htmx_click_gets_the_message_in_place(auth, logged_in, resident, paid):
    token = auth.csrf(VAULT)
    response = logged_in.post(email_path(paid), headers={"HX-Request": "true", "X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Token sent to your email and inbox" in html and "<html" not in html
    assert resent(resident) == (1, 1)


def test_clicks_past_the_limit_are_429_with_a_clear_message(auth, resident, paid):
    assert [auth.post(email_path(paid), page=VAULT).status_code for _ in range(3)] == [302, 302, 302]
    response = auth.post(email_path(paid), page=VAULT)
    assert response.status_code == 429
    assert "asked for tokens to be sent again several times" in response.get_data(as_text=True)
    assert resent(resident) == (3, 3)


def test_the_limit_is_shared_with_the_payment_pages_resend(auth, resident, paid):
    for _ in range(3):
        assert auth.post(f"/payments/{paid.id}/resend-token", page=f"/payments/{paid.id}").status_code == 302
    assert auth.post(email_path(paid), page=VAULT).status_code == 429
    assert resent(resident) == (3, 3)


def test_emailing_a_token_still_on_its_way_is_400_and_sends_nothing(auth, logged_in, resident, meter):
    late = make_payment(resident, meter, vends_token=False, token_next_check_at=utcnow() + timedelta(minutes=5))
    response = auth.post(email_path(late), page=VAULT)
    assert response.status_code == 400 and "no token to send" in response.get_data(as_text=True)
    assert resent(resident) == (0, 0)


# -- text me this token ----------------------------------------------------------------------------

def texted(user) -> list[tuple[str, str | None, bool]]:
    db.session.rollback()
    return [(m.to_number, m.next_attempt_at, m.urgent) for m in db.session.scalars(
        select(SmsMessage).where(SmsMessage.user_id == user.id).order_by(SmsMessage.id))]


def test_each_text_click_queues_one_sms_at_once_even_in_quiet_hours(auth, logged_in, resident, paid):
    assert "Text me this token" not in vault(logged_in)  # no phone number yet
    resident.phone = "+2348031234567"
    resident.sms_quiet_start, resident.sms_quiet_end = 0, 24 * 60 - 1  # quiet all day
    db.session.commit()
    assert f'id="sms-token-{paid.id}">Text me this token</button>' in vault(logged_in)
    for clicks in (1, 2):
        response = auth.post(f"/tokens/{paid.id}/sms", page=VAULT)
        assert response.status_code == 302
        assert texted(resident) == [("+2348031234567", None, True)] * clicks
    body = db.session.scalars(select(SmsMessage).where(SmsMessage.user_id == resident.id)).first().body
    assert grouped(paid.token) in body
    assert resent(resident) == (2, 0)  # the inbox too, no email


def test_texting_without_a_phone_number_says_how_and_sends_nothing(auth, resident, paid):
    resident.phone = None
    db.session.commit()
    response = auth.post(f"/tokens/{paid.id}/sms", page=VAULT)
    assert response.status_code == 400
    assert "Add your phone number in your notification settings" in response.get_data(as_text=True)
    assert texted(resident) == [] and resent(resident) == (0, 0)


def test_texts_and_emails_share_the_re_send_limit(auth, resident, paid):
    resident.phone = "+2348031234567"
    db.session.commit()
    assert [auth.post(path, page=VAULT).status_code
            for path in (email_path(paid), f"/tokens/{paid.id}/sms", email_path(paid))] == [302, 302, 302]
    assert auth.post(f"/tokens/{paid.id}/sms", page=VAULT).status_code == 429
    assert len(texted(resident)) == 1


def test_another_residents_token_cannot_be_texted(auth, resident, paid, other_resident):
    other = other_resident
    other.phone = "+2348031234568"
    db.session.commit()
    auth.logout()
    auth.login(other.email)
    assert auth.post(f"/tokens/{paid.id}/sms", page=VAULT).status_code == 404
    assert texted(other) == [] and texted(resident) == []


# -- what a page costs -----------------------------------------------------------------------------

def test_a_vault_page_costs_no_more_statements_with_more_tokens(logged_in, resident, meter, second_meter):
    make_payment(resident, meter, token=token_of(1))
    fetch(logged_in, VAULT)  # warm up
    with counted_statements() as one:
        fetch(logged_in, VAULT)
    for n in range(2, 8):
        make_payment(resident, second_meter if n % 2 else meter, token=token_of(n),
                     key_change_token_1=token_of(100 + n), key_change_token_2=token_of(200 + n))
    make_payment(resident, meter, vends_token=False, token_next_check_at=utcnow() + timedelta(minutes=5))
    fetch(logged_in, VAULT)
    with counted_statements() as eight:
        html = fetch(logged_in, VAULT).get_data(as_text=True)
    assert len(entries(html)) == 8
    assert len(eight) == len(one), "\n".join(eight)


def test_the_receipt_and_pay_page_list_key_change_tokens_before_the_token(logged_in, resident, meter):
    payment = make_payment(resident, meter, token=token_of(1), key_change_token_1=token_of(2),
                           key_change_token_2=token_of(3))
    for path in (f"/payments/{payment.id}/receipt", f"/pay/{payment.id}"):
        html = logged_in.get(path).get_data(as_text=True)
        positions = [html.index(grouped(token_of(n))) for n in (2, 3, 1)]
        assert positions == sorted(positions), path
