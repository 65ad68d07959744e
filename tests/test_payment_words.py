"""Payments explained in words people understand: the admin's refund reason as a sentence on the
resident's pages, and people's names (not actor keys) on every timeline, loaded in one query."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine

from tests import factories
from tests.factories_payments import make_catalogue_entry, make_payment, make_utility_account
from tests.payments.helpers import paid_from_wallet
from tests.sql_counting import counted_statements, fetch
from webapp.extensions import db
from webapp.models import PaymentEvent

REFUNDED_AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # 11:00 in Lagos
RESIDENT_PAGES = ["/pay/{id}", "/payments/{id}"]


def words(html: str) -> str:
    """A page's text as a reader sees it: tags out, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def refund_line(html: str) -> str:
    return words(re.search(r'<p class="alert alert-info" id="refund-line">.*?</p>', html, re.S).group(0))


def timeline_actors(html: str) -> list[str]:
    return re.findall(r'class="muted actor">by ([^<]+)<', html.split('id="timeline"')[1])


@pytest.fixture
def estate_admin(estate):
    return factories.make_user(estate=estate, email="bola@estate.ng", role="estate_admin", full_name="Bola Musa")


@pytest.fixture
def account(resident, estate):
    return make_utility_account(resident, make_catalogue_entry(estate), nickname="Home meter")


@pytest.fixture
def succeeded(resident, account):
    """A ₦1,000.00 purchase (₦1,100.00 with the fee) whose debit really went through the ledger."""
    return paid_from_wallet(resident, account, 1_000_00)


@pytest.fixture
def refund(auth, estate_admin, succeeded):
    """The estate admin refunds ``succeeded`` through the admin page with the given reason."""
    def refund_with(reason: str):
        auth.login(estate_admin.email)
        page = f"/admin/payments/{succeeded.id}"
        with time_machine.travel(REFUNDED_AT, tick=False):
            response = auth.post(f"{page}/refund", {"reason": reason}, page=page, follow_redirects=True)
        assert response.status_code == 200
        auth.logout()
        return succeeded
    return refund_with


# --- the refund reason ------------------------------------------------------------------------

@pytest.mark.parametrize("path", RESIDENT_PAGES)
def test_the_resident_reads_when_how_much_and_why_it_was_refunded(auth, resident, refund, path):
    payment = refund("the token never arrived")
    auth.login(resident.email)
    html = auth.client.get(path.format(id=payment.id)).get_data(as_text=True)
    assert refund_line(html) == ("Refunded on 2 Dec 2026: ₦1,100.00 is back in your wallet. "
                                 "Reason: the token never arrived.")


@pytest.mark.parametrize("path", RESIDENT_PAGES)
def test_the_refund_reason_is_shown_as_text_never_as_markup(auth, resident, refund, path):
    payment = refund('<script>alert("x")</script> & <b>bold</b>')
    auth.login(resident.email)
    html = auth.client.get(path.format(id=payment.id)).get_data(as_text=True)
    assert '<script>alert("x")</script>' not in html and "<b>bold</b>" not in html
    assert ('<span class="refund-reason">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; '
            '&lt;b&gt;bold&lt;/b&gt;.</span>') in html


def test_a_reason_that_ends_its_own_sentence_gets_no_second_full_stop(auth, resident, refund):
    payment = refund("Was this charged twice? ")
    auth.login(resident.email)
    line = refund_line(auth.client.get(f"/payments/{payment.id}").get_data(as_text=True))
    assert line.endswith("Reason: Was this charged twice?")


def test_a_refund_with_no_recorded_reason_has_no_reason_and_no_none(auth, resident, account):
    payment = make_payment(resident, account, "refunded", amount_kobo=1_000_00)
    auth.login(resident.email)
    line = refund_line(auth.client.get(f"/pay/{payment.id}").get_data(as_text=True))
    assert line == "Refunded. ₦1,100.00 is back in your wallet."


# --- names on the timeline --------------------------------------------------------------------

@pytest.fixture
def story(resident, account, estate, estate_admin):
    """A payment touched by the resident, their automation, the system, the estate admin and a
    platform admin."""
    root = factories.make_user(email="root@autopay.ng", role="platform_admin", full_name="Ngozi Eze")
    payment = make_payment(resident, account, "succeeded")
    for actor in (f"user:{resident.id}", "automation:4", "system", "worker", f"admin:{estate_admin.email}",
                  f"admin:{root.email}", "admin:gone@estate.ng"):
        db.session.add(PaymentEvent(payment_id=payment.id, from_status=None, to_status="created", reason="",
                                    actor=actor))
    db.session.commit()
    return payment


def test_the_resident_reads_you_names_and_autopay(auth, resident, story):
    auth.login(resident.email)
    html = auth.client.get(f"/payments/{story.id}").get_data(as_text=True)
    assert timeline_actors(html) == ["you", "your automatic payment", "Autopay", "Autopay",
                                     "Estate admin Bola Musa", "Platform admin Ngozi Eze", "an estate admin"]
    assert "gone@estate.ng" not in html and f"user:{resident.id}" not in html


def test_the_admin_reads_each_persons_role_and_name(auth, estate_admin, story):
    auth.login(estate_admin.email)
    html = auth.client.get(f"/admin/payments/{story.id}").get_data(as_text=True)
    assert timeline_actors(html) == ["Resident Ada Okafor", "the resident&#39;s automatic payment", "Autopay",
                                     "Autopay", "you (Estate admin Bola Musa)", "Platform admin Ngozi Eze",
                                     "Estate admin gone@estate.ng"]
    assert "(system)" not in html and "(worker)" not in html


def test_an_admin_with_no_name_is_shown_by_email(auth, estate, resident, story):
    nameless = factories.make_user(estate=estate, email="tunde@estate.ng", role="estate_admin", full_name="")
    db.session.add(PaymentEvent(payment_id=story.id, from_status=None, to_status="created", reason="",
                                actor=f"admin:{nameless.email}"))
    db.session.commit()
    auth.login(resident.email)
    assert timeline_actors(auth.client.get(f"/payments/{story.id}").get_data(as_text=True))[-1] == "an estate admin"
    auth.logout()
    auth.login("bola@estate.ng")
    assert timeline_actors(auth.client.get(f"/admin/payments/{story.id}").get_data(as_text=True))[-1] == (
        "Estate admin tunde@estate.ng")


@pytest.mark.parametrize("path", ["/payments/{id}", "/admin/payments/{id}"])
def test_a_timeline_costs_the_same_statements_whatever_the_number_of_people(auth, resident, estate_admin,
                                                                             account, estate, path):
    viewer = estate_admin if path.startswith("/admin") else resident
    auth.login(viewer.email)

    def statements_for(people: int) -> int:
        payment = make_payment(resident, account, "succeeded")
        for n in range(people):
            admin = factories.make_user(estate=estate, email=f"admin{people}-{n}@estate.ng", role="estate_admin",
                                        full_name=f"Admin {n}")
            resident_n = factories.make_user(estate=estate, email=f"resident{people}-{n}@estate.ng")
            for actor in (f"admin:{admin.email}", f"user:{resident_n.id}", f"automation:{n}"):
                db.session.add(PaymentEvent(payment_id=payment.id, from_status=None, to_status="created",
                                            reason="", actor=actor))
        db.session.commit()
        with counted_statements() as statements:
            response = fetch(auth.client, path.format(id=payment.id))
        assert response.status_code == 200 and len(timeline_actors(response.get_data(as_text=True))) == 3 * people
        return len(statements)

    assert statements_for(1) == statements_for(8)
