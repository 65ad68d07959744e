"""The pay-now pages: bad input changes nothing, ids are scoped, a resubmitted form pays once."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import JournalEntry, Payment
from webapp.services import ledger

from ..factories import make_user
from ..factories_payments import make_catalogue_entry, make_payment, make_utility_account


@pytest.fixture
def setup(app, estate, resident):
    entry = make_catalogue_entry(estate)  # min ₦500, max ₦500,000, fee ₦100
    account = make_utility_account(resident, entry, nickname="Home meter")
    ledger.credit_funding(resident.id, 20_000_00, "paystack", "fund-views-1")
    db.session.commit()
    return account


def counts():
    db.session.rollback()
    return (db.session.scalar(select(func.count(Payment.id))),
            db.session.scalar(select(func.count(JournalEntry.id))))


def review(auth, account_id, amount):
    return auth.post("/pay/review", {"account": str(account_id), "amount": amount}, page="/pay/")


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "greater than ₦0"),
    ("-50", "greater than ₦0"),
    ("abc", "numbers only"),
    ("5000.123", "two digits"),
    ("", "Enter an amount"),
    ("100", "minimum"),
    ("600000", "maximum"),
    ("25000", "Fund your wallet"),
])
def test_bad_amounts_show_a_form_error_and_create_nothing(auth, resident, setup, amount, message):
    auth.login(resident.email)
    before = counts()
    response = review(auth, setup.id, amount)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts() == before


def test_unknown_or_foreign_account_is_refused(auth, estate, resident, setup):
    stranger = make_user(estate=estate, email="c@example.com")
    foreign = make_utility_account(stranger, setup.provider, number="12345678901")
    auth.login(resident.email)
    before = counts()
    for account_id in ("999999", str(foreign.id), "abc"):
        response = review(auth, account_id, "5000")
        assert response.status_code == 422
        assert "Choose one of your accounts" in response.get_data(as_text=True) or "Not a valid choice" in \
            response.get_data(as_text=True)
    assert counts() == before


def test_review_shows_amount_fee_and_total(auth, resident, setup):
    auth.login(resident.email)
    html = review(auth, setup.id, "5,000").get_data(as_text=True)
    assert "₦5,000.00" in html and "₦100.00" in html and "₦5,100.00" in html


def confirm_data(html: str) -> dict:
    fields = dict(re.findall(r'name="(account|amount_kobo|submit_key)"[^>]*value="([^"]*)"', html))
    fields.update(dict(re.findall(r'value="([^"]*)"[^>]*name="(account|amount_kobo|submit_key)"', html)[::-1]))
    return fields


def test_resubmitted_confirm_form_creates_one_payment(auth, client, resident, setup):
    auth.login(resident.email)
    html = review(auth, setup.id, "5000").get_data(as_text=True)
    data = confirm_data(html)
    assert data.get("submit_key")
    token = auth.csrf("/pay/")
    first = client.post("/pay/confirm", data={**data, "csrf_token": token})
    second = client.post("/pay/confirm", data={**data, "csrf_token": token})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_confirm_requires_csrf(client, auth, resident, setup):
    auth.login(resident.email)
    response = client.post("/pay/confirm", data={"account": setup.id, "amount_kobo": "500000", "submit_key": "x"})
    assert response.status_code == 400
    assert counts()[0] == 0


def test_another_residents_payment_is_404(auth, client, estate, resident, setup):
    stranger = make_user(estate=estate, email="c@example.com")
    theirs = make_payment(stranger, make_utility_account(stranger, setup.provider, number="12345678901"))
    auth.login(resident.email)
    assert client.get(f"/pay/{theirs.id}").status_code == 404
    assert client.get("/pay/99999").status_code == 404


def test_status_polls_while_in_flight_and_stops_when_final(auth, client, resident, setup):
    auth.login(resident.email)
    pending = make_payment(resident, setup, status="submitted")
    done = make_payment(resident, setup, status="succeeded", token="12345678901234567890")
    in_flight = client.get(f"/pay/{pending.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in in_flight and "<html" not in in_flight
    final = client.get(f"/pay/{done.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in final
    assert "1234</span> <span>5678" in final  # token in groups of four
    assert 'data-copy="12345678901234567890"' in final


def test_admin_cannot_use_pay_pages(auth, client, estate_admin):
    auth.login(estate_admin.email)
    assert client.get("/pay/").status_code == 404


def test_kobo_for_a_provider_that_takes_whole_naira_is_refused_with_the_amount_kept(auth, estate, resident):
    # Flutterwave's bill payment amount is an integer of naira (its OpenAPI).
    entry = make_catalogue_entry(estate, api_provider="flutterwave", provider_code="BIL112", item_code="UB157")
    account = make_utility_account(resident, entry, nickname="Flat meter")
    ledger.credit_funding(resident.id, 20_000_00, "paystack", "fund-views-kobo")
    db.session.commit()
    auth.login(resident.email)
    before = counts()
    response = review(auth, account.id, "5000.50")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "paid in whole naira only" in html and "₦5,000.00" in html and 'value="5000.50"' in html
    assert counts() == before


def test_kobo_for_a_provider_that_takes_kobo_is_reviewed(auth, resident, setup):
    auth.login(resident.email)
    assert setup.provider.takes_kobo  # VTpass takes a number of naira
    assert review(auth, setup.id, "5000.50").status_code == 200
