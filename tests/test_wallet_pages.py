"""Wallet pages: who may see them, the funding form's input rules, results, and the statement."""
import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import FundingIntent, JournalEntry
from webapp.request_numbers import parse_naira
from webapp.services import ledger

from .conftest import csrf_token_from
from .page_access import assert_sends_to_sign_in


@pytest.fixture
def config_overrides(funding_config):
    return funding_config


def counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count(FundingIntent.id))),
            db.session.scalar(select(func.count(JournalEntry.id))))


def post_fund(auth, amount, gateway="paystack"):
    return auth.post("/wallet/fund", {"amount": amount, "gateway": gateway})


# Who may see the wallet

def test_anonymous_visitor_is_sent_to_login(client):
    assert_sends_to_sign_in(client, "/wallet/", "/wallet/fund", "/wallet/statement")


def test_admin_opening_the_wallet_gets_404(auth, client, estate_admin):
    auth.login("admin@example.com")
    assert client.get("/wallet/").status_code == 404
    assert client.get("/wallet/fund").status_code == 404


def test_resident_nav_links_to_the_wallet(auth, client, resident):
    auth.login("ada@example.com")
    assert 'href="/wallet/"' in client.get("/").get_data(as_text=True)


def test_wallet_page_shows_balance_and_add_money_button(auth, client, resident):
    ledger.credit_funding(resident.id, 1_234_567, "paystack", "fund-seeded1")
    db.session.commit()
    auth.login("ada@example.com")
    html = client.get("/wallet/").get_data(as_text=True)
    assert "₦12,345.67" in html
    assert 'href="/wallet/fund"' in html
    assert "Wallet funding via Paystack" in html


def test_looking_at_an_empty_wallet_opens_no_ledger_account(auth, client, resident):
    auth.login("ada@example.com")
    assert "₦0.00" in client.get("/wallet/").get_data(as_text=True)
    assert client.get("/wallet/statement").status_code == 200
    from webapp.models import Account

    assert db.session.scalar(select(func.count(Account.id))) == 0


# The funding form

@pytest.mark.parametrize("text, kobo", [
    ("5000", 500_000), ("5,000.50", 500_050), ("₦1,234.5", 123_450), (" 100 ", 10_000), ("0.01", 1),
    ("1,000,000", 100_000_000),
])
def test_naira_text_becomes_exact_kobo(text, kobo):
    assert parse_naira(text) == kobo


@pytest.mark.parametrize("text", ["", "0", "0.00", "-50", "abc", "12a", "1.234", "1e3", "NaN", "Infinity",
                                  "1,00", "5..0", "99999999999999999999999999999999"])
def test_text_that_is_not_a_positive_naira_amount_is_refused(text):
    with pytest.raises(ValueError):
        parse_naira(text)


@pytest.mark.parametrize("amount, message", [
    ("0", "greater than ₦0"),
    ("-500", "greater than ₦0"),
    ("five thousand", "numbers only"),
    ("", "Enter an amount"),
    ("100.505", "two digits after the decimal point"),
    ("1000000.01", "The most you can add at once is ₦1,000,000.00"),
    ("0.50", "The least you can add is ₦1.00"),
])
def test_bad_amount_shows_a_clear_error_and_creates_nothing(auth, resident, amount, message):
    auth.login("ada@example.com")
    before = counts()
    response = post_fund(auth, amount)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts() == before


def test_unknown_gateway_is_refused_and_creates_nothing(auth, resident):
    auth.login("ada@example.com")
    response = post_fund(auth, "5000", gateway="bitcoin")
    assert response.status_code == 422
    assert counts() == (0, 0)


def test_good_amount_opens_the_gateway_checkout(auth, resident, sandbox):
    auth.login("ada@example.com")
    response = post_fund(auth, "2,500.75", gateway="flutterwave")
    assert response.status_code == 302
    intent = db.session.scalars(select(FundingIntent)).one()
    assert (intent.amount_kobo, intent.gateway, intent.status) == (250_075, "flutterwave", "pending")
    assert response.headers["Location"] == intent.checkout_url
    assert intent.checkout_url.startswith(sandbox.url)


def test_gateway_down_shows_a_plain_message_and_records_a_failed_intent(app, auth, resident):
    app.config["PAYSTACK_BASE_URL"] = "http://127.0.0.1:9/paystack"  # nothing listens on the discard port
    auth.login("ada@example.com")
    response = post_fund(auth, "5000")
    assert response.status_code == 503
    assert "could not open the payment page" in response.get_data(as_text=True)
    intent = db.session.scalars(select(FundingIntent)).one()
    assert intent.status == "failed" and intent.checkout_url is None
    assert counts()[1] == 0


# Return redirect and result page

def test_return_redirect_for_another_residents_reference_is_404(auth, client, resident, other_resident,
                                                                 open_checkout):
    theirs = open_checkout(other_resident)
    auth.login("ada@example.com")
    assert client.get(f"/wallet/fund/return/paystack?reference={theirs.reference}").status_code == 404
    assert client.get(f"/wallet/fund/{theirs.reference}").status_code == 404
    db.session.refresh(theirs)
    assert theirs.status == "pending"


def test_return_redirect_without_a_reference_is_404(auth, client, resident):
    auth.login("ada@example.com")
    assert client.get("/wallet/fund/return/paystack").status_code == 404
    assert client.get("/wallet/fund/return/bitcoin?reference=x").status_code == 404


def test_pending_result_polls_itself_and_partial_is_only_the_status_card(auth, client, resident, open_checkout):
    intent = open_checkout(resident)
    auth.login("ada@example.com")
    page = client.get(f"/wallet/fund/{intent.reference}").get_data(as_text=True)
    assert "<html" in page and 'hx-trigger="every 2s"' in page
    partial = client.get(f"/wallet/fund/{intent.reference}", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert "<html" not in body and 'id="funding-status"' in body and 'hx-trigger="every 2s"' in body
    assert "HX-Request" in partial.headers["Vary"]


def test_final_result_stops_polling(auth, client, resident, open_checkout, pay_checkout):
    intent = open_checkout(resident, amount_kobo=300_000)
    pay_checkout(intent)
    auth.login("ada@example.com")
    response = client.get(f"/wallet/fund/{intent.reference}", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert 'data-status="credited"' in body
    assert "hx-trigger" not in body
    assert "₦3,000.00 has been added to your wallet" in body


# Statement

@pytest.fixture
def twenty_five_credits(resident):
    for n in range(1, 26):
        ledger.credit_funding(resident.id, n * 100, "paystack", f"fund-stmt{n:02d}")
    db.session.commit()


def test_statement_pages_newest_first_with_running_balance(auth, client, resident, twenty_five_credits):
    auth.login("ada@example.com")
    first = client.get("/wallet/statement").get_data(as_text=True)
    second = client.get("/wallet/statement?page=2").get_data(as_text=True)
    total = sum(n * 100 for n in range(1, 26))  # ₦325.00
    # Newest line first: +₦25.00 leaving the full balance; page 2 ends with the first credit of ₦1.00.
    assert first.index("fund-stmt25") < first.index("fund-stmt24")
    assert f"₦{total // 100}.00" in first and "Page 1 of 2" in first
    assert first.count("fund-stmt") == 20 and second.count("fund-stmt") == 5
    assert "fund-stmt05" in second and "fund-stmt06" not in second
    last_row = second[second.index("fund-stmt01"):]
    assert "+₦1.00" in last_row and last_row.count("₦1.00") == 2  # amount and balance after it


def test_statement_page_out_of_range_is_empty_not_an_error(auth, client, resident, twenty_five_credits):
    auth.login("ada@example.com")
    response = client.get("/wallet/statement?page=9")
    assert response.status_code == 200
    assert "nothing on this page" in response.get_data(as_text=True)


def test_statement_shows_only_the_residents_own_lines(auth, client, resident, other_resident):
    ledger.credit_funding(other_resident.id, 50_000, "paystack", "fund-theirs")
    db.session.commit()
    auth.login("ada@example.com")
    assert "fund-theirs" not in client.get("/wallet/statement").get_data(as_text=True)


def test_fund_page_carries_a_csrf_token(auth, client, resident):
    auth.login("ada@example.com")
    assert csrf_token_from(client.get("/wallet/fund").get_data(as_text=True))
