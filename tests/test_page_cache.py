"""The dashboard served from the page cache: never stale, never another session's token.

A view is cached once the resident's data has been quiet for PAGE_CACHE_SETTLE_SECONDS, so these
tests create data, then move the clock a minute on (time-machine) and look at the page twice: the
second look must cost only the sign-in and the version statement. Every kind of change the page
shows must then appear on the very next view.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Notification, PaymentStatus, User
from webapp.models.base import utcnow
from webapp.presentation import page_cache
from webapp.presentation.page_cache import _Store
from webapp.services import estate_bills, ledger, utility_accounts
from webapp.services.catalogue.entries import deactivate_entry
from webapp.services.notify import notify

from .conftest import AuthActions
from .factories_payments import make_payment
from .sql_counting import counted_statements, fetch

# A cached view: the user (sign-in), the version statement, and the BEGIN/ROLLBACK around them.
CACHED_VIEW_MAX_STATEMENTS = 4
CSRF_IN_PAGE = re.compile(r'name="csrf_token" value="([^"]+)"')


def view(client) -> tuple[str, int]:
    """The dashboard's HTML and the number of SQL statements it cost, requested like a server would."""
    with counted_statements() as statements:
        response = fetch(client, "/")
    assert response.status_code == 200
    return response.get_data(as_text=True), len(statements)


def in_own_context(call):
    """Run a request as a server would: in a fresh app context, so ``g`` holds no other client's user."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def without_tokens(html: str) -> str:
    return CSRF_IN_PAGE.sub("", re.sub(r'"X-CSRFToken": "[^"]+"', "", html))


@pytest.fixture
def settled(logged_in, resident, meter):
    """A resident with a balance and a payment, the clock a minute past their last change."""
    ledger.credit_funding(resident.id, 20_000_00, "paystack", "FUNDCACHE1")
    db.session.commit()
    make_payment(resident, meter, status=PaymentStatus.SUCCEEDED, amount_kobo=5_000_00)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1)):
        yield logged_in


def test_a_settled_dashboard_is_served_from_memory(settled):
    first, fresh_cost = view(settled)
    second, cached_cost = view(settled)
    print(f"dashboard: {fresh_cost} statements rendered, {cached_cost} from the cache")
    assert cached_cost <= CACHED_VIEW_MAX_STATEMENTS < fresh_cost
    assert without_tokens(second) == without_tokens(first)
    assert "<csrf-token>" not in second


def test_data_still_changing_is_rendered_every_time(logged_in, resident, meter):
    make_payment(resident, meter)  # just now: inside the settle window
    _, first_cost = view(logged_in)
    _, second_cost = view(logged_in)
    assert second_cost == first_cost > CACHED_VIEW_MAX_STATEMENTS


def test_uncached_when_switched_off(settled, app):
    app.config["PAGE_CACHE_SECONDS"] = 0
    _, first_cost = view(settled)
    _, second_cost = view(settled)
    assert second_cost == first_cost > CACHED_VIEW_MAX_STATEMENTS


# Every change the page shows is on the next view.

def _change_name(resident):
    db.session.get(User, resident.id).full_name = "Adaeze Okafor"
    db.session.commit()


def _read_notification(resident):
    for note in db.session.scalars(select(Notification).where(Notification.user_id == resident.id)):
        note.read_at = utcnow()
    db.session.commit()


def _issue_bill(resident):
    estate_bills.issue_bills(resident.estate_id, title="Security levy, July", bill_type="security",
                             amount_kobo=2_500_00, due_date=date(2099, 7, 31), user_ids=[resident.id])


CHANGES = {
    "new payment": (lambda r, m: make_payment(r, m, amount_kobo=7_654_00), "₦7,654.00"),
    "wallet funded": (lambda r, m: (ledger.credit_funding(r.id, 1_00, "paystack", "FUNDCACHE2"), db.session.commit()),
                      "₦20,001.00"),
    "account renamed": (lambda r, m: utility_accounts.rename(r.id, m.id, "Boys' quarters"), "Boys&#39; quarters"),
    "resident renamed": (lambda r, m: _change_name(r), "Hello, Adaeze"),
    # Issuing also notifies; reading that at once leaves the bill as the only change.
    "estate bill issued": (lambda r, m: (_issue_bill(r), _read_notification(r)), "Security levy, July"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_change_shows_on_the_next_view(settled, resident, meter, change):
    apply, expected = CHANGES[change]
    before, _ = view(settled)
    assert view(settled)[1] <= CACHED_VIEW_MAX_STATEMENTS  # now cached
    assert expected not in before
    apply(resident, meter)
    after, cost = view(settled)
    assert expected in after, change
    assert cost > CACHED_VIEW_MAX_STATEMENTS


def test_a_payment_status_change_shows_on_the_next_view(settled, resident, meter):
    pending = make_payment(resident, meter, status=PaymentStatus.SUBMITTED, amount_kobo=7_654_00)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1)):
        view(settled)
        html, cost = view(settled)
        assert cost <= CACHED_VIEW_MAX_STATEMENTS and "badge badge-submitted" in html
        pending.status = PaymentStatus.SUCCEEDED.value  # as a worker would record the provider's answer
        pending.token = "12345678901234567890"
        db.session.commit()
        html, _ = view(settled)
    assert "badge badge-submitted" not in html and "1234 5678 9012 3456 7890" in html


def test_a_withdrawn_provider_drops_its_pay_again_shortcut(settled, power_entry):
    html, _ = view(settled)
    assert 'id="pay-again"' in html and view(settled)[1] <= CACHED_VIEW_MAX_STATEMENTS
    deactivate_entry(power_entry)
    db.session.commit()
    assert 'id="pay-again"' not in view(settled)[0]


def test_the_unread_badge_follows_notifications(settled, resident):
    assert "unread" not in view(settled)[0].split("nav-notifications")[1][:300]
    notify(resident.id, "payment_succeeded", title="Paid", body="Your payment went through.", dedup_key="cache-1")
    db.session.commit()
    assert "Notifications, 1 unread" in view(settled)[0]
    _read_notification(resident)
    assert "Notifications, 1 unread" not in view(settled)[0]


# Sessions live for weeks in this test alone: it moves the clock days past the sign-in.
@pytest.mark.parametrize("config_overrides", [{"SESSION_IDLE_MINUTES": 40 * 24 * 60, "SESSION_MAX_HOURS": 40 * 24}])
def test_a_new_month_redraws_the_chart(settled):
    # The last day of this month, then the first of the next: never further from sign-in than the
    # cookie's lifetime (31 days), whatever day the suite runs on.
    next_month = (datetime.now(UTC).replace(day=28) + timedelta(days=5)).replace(day=1, hour=12, minute=0)
    with time_machine.travel(next_month - timedelta(hours=36)):
        view(settled)
        assert view(settled)[1] <= CACHED_VIEW_MAX_STATEMENTS
    with time_machine.travel(next_month):
        html, cost = view(settled)
    assert cost > CACHED_VIEW_MAX_STATEMENTS
    assert next_month.strftime("%B %Y") in html


# What belongs to the request, not to the data.

def test_each_browser_session_gets_its_own_working_csrf_token(settled, app):
    other = app.test_client()  # the same resident signed in on a second device
    in_own_context(lambda: AuthActions(other).login("ada@example.com"))
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1)):  # past the sign-in's change
        view(settled)  # stores the page, with this session's token taken out
        ours_html, our_cost = view(settled)
        theirs_html, their_cost = view(other)
        assert our_cost <= CACHED_VIEW_MAX_STATEMENTS and their_cost <= CACHED_VIEW_MAX_STATEMENTS
        assert without_tokens(ours_html) == without_tokens(theirs_html)
        ours, theirs = CSRF_IN_PAGE.search(ours_html).group(1), CSRF_IN_PAGE.search(theirs_html).group(1)
        assert ours != theirs
        # Each token works in its own session: signing out with it succeeds (a bad token is a 400).
        for client, token in ((other, theirs), (settled, ours)):
            response = in_own_context(lambda c=client, t=token: c.post("/auth/logout", data={"csrf_token": t}))
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_flash_message_shows_once_and_is_never_cached(settled):
    view(settled)
    with settled.session_transaction() as session:
        session["_flashes"] = [("success", "Your wallet was funded.")]
    html, _ = view(settled)
    assert "Your wallet was funded." in html
    html, cost = view(settled)
    assert "Your wallet was funded." not in html and cost <= CACHED_VIEW_MAX_STATEMENTS


def test_the_store_keeps_within_its_size():
    store = _Store(max_chars=100, seconds=60)
    store.put("a", "x" * 60)
    store.put("b", "y" * 60)  # evicts "a": both would not fit
    assert store.get("a") is None and store.get("b") == "y" * 60
    store.put("big", "z" * 101)  # larger than the whole store: not kept
    assert store.get("big") is None and store.get("b") == "y" * 60


def test_clear_forgets_every_page(settled, app):
    view(settled)
    assert view(settled)[1] <= CACHED_VIEW_MAX_STATEMENTS
    with app.app_context():
        page_cache.clear()
    assert view(settled)[1] > CACHED_VIEW_MAX_STATEMENTS
