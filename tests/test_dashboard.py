"""The resident's home page: balance, recent payments, pay-again shortcuts, estate bills and the spend chart."""
from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from babel.numbers import format_currency
from flask import before_render_template, template_rendered
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Account, Notification, PaymentStatus, User
from webapp.models.base import utcnow
from webapp.presentation import charts
from webapp.services import ledger
from webapp.services.notify import notify

from .conftest import csrf_token_from
from .factories_automations import make_estate_bill
from .factories_payments import PaymentFactory, make_catalogue_entry, make_payment, make_utility_account
from .sql_counting import counted_statements, fetch

LAGOS = ZoneInfo("Africa/Lagos")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
WINDOW = [f"2024-{m:02d}" for m in range(7, 13)] + [f"2025-{m:02d}" for m in range(1, 7)]
RECT = re.compile(r'<rect\b[^>]*?\by="(\d+)"[^>]*?\bheight="(\d+)"[^>]*?data-month="([^"]+)"'
                  r'[^>]*?data-type="([^"]+)"[^>]*?data-kobo="(\d+)"', re.S)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def chart_bars(html: str) -> dict[tuple[str, str], int]:
    return {(month, kind): int(kobo) for _y, _h, month, kind, kobo in RECT.findall(html)}


# Who sees it

def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_admin_is_sent_to_the_admin_area(auth, client, estate_admin):
    auth.login("admin@example.com")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")


# Who it greets

def test_greets_the_resident_by_first_name_in_their_estate(logged_in, resident, estate):
    html = home(logged_in)
    assert "Hello, Ada</h1>" in html
    assert f"You are a resident of <strong>{estate.name}</strong>." in html


def test_a_new_name_shows_on_the_next_view(logged_in, resident):
    home(logged_in)
    db.session.get(User, resident.id).full_name = "Adaeze Okafor"
    db.session.commit()
    assert "Hello, Adaeze</h1>" in home(logged_in)


# Balance

def test_shows_the_wallet_balance(logged_in, resident):
    ledger.credit_funding(resident.id, 1_234_567, "paystack", "FUND0001")
    db.session.commit()
    assert '<p class="balance" id="wallet-balance">₦12,345.67</p>' in home(logged_in)


def test_without_a_wallet_shows_zero_and_opens_none(logged_in):
    assert '<p class="balance" id="wallet-balance">₦0.00</p>' in home(logged_in)
    assert db.session.scalar(select(func.count(Account.id))) == 0


# Recent payments

def test_shows_the_five_latest_payments_with_their_status(logged_in, resident, meter):
    statuses = ["succeeded", "failed", "unknown", "succeeded", "submitted", "failed", "succeeded"]
    payments = [make_payment(resident, meter, status=s, created_at=at(2025, 5, 1 + i, 9))
                for i, s in enumerate(statuses)]
    html = home(logged_in)
    recent = html[html.index('id="recent-heading"'):]
    assert [int(i) for i in re.findall(r'href="/payments/(\d+)"', recent)] == [p.id for p in payments[::-1][:5]]
    assert Counter(re.findall(r'badge badge-(\w+)', recent)) == Counter(statuses[::-1][:5])


def test_without_payments_says_how_to_start(logged_in):
    assert "No payments yet." in home(logged_in)


def test_recent_payments_show_their_account_and_token_in_groups_of_four(logged_in, resident, meter):
    make_payment(resident, meter, token="12345678901234567890")
    recent = home(logged_in).split('id="recent-heading"')[1]
    assert "<code>1234 5678 9012 3456 7890</code>" in recent  # read back decrypted
    assert "Flat 3 meter" in recent and f"•••• {meter.number_last4}" in recent


def test_a_payments_new_status_shows_on_the_next_view(logged_in, resident, meter):
    pending = make_payment(resident, meter, status=PaymentStatus.SUBMITTED)
    assert "badge badge-submitted" in home(logged_in)
    pending.status = PaymentStatus.SUCCEEDED.value  # as a worker would record the provider's answer
    pending.token = "12345678901234567890"
    db.session.commit()
    html = home(logged_in)
    assert "badge badge-submitted" not in html and "1234 5678 9012 3456 7890" in html


def test_an_estate_bill_payment_shows_the_bills_title(logged_in, resident):
    bill = make_estate_bill(resident)
    PaymentFactory(utility_account=None, user=resident, provider=None, kind="estate_bill", bill_id=bill.id,
                   utility_type=None, api_provider=None, fee_kobo=0, amount_kobo=3_000_00, vends_token=False)
    row = home(logged_in).split('id="recent-heading"')[1].split("</tr>")[1]
    assert f"{bill.title}<br>" in row.replace("\n", "").replace("  ", "") and "Estate bill" in row


def test_times_are_shown_in_the_residents_timezone(logged_in, resident, meter):
    make_payment(resident, meter, created_at=at(2025, 5, 1, 23, 30))
    assert "2 May 2025, 00:30" in home(logged_in)  # the estate's Lagos, UTC+1
    db.session.get(User, resident.id).timezone = "Asia/Tokyo"
    db.session.commit()
    assert "2 May 2025, 08:30" in home(logged_in)


# Pay again

def test_pay_again_links_each_recent_account_with_its_last_succeeded_amount(logged_in, resident, meter, decoder):
    make_payment(resident, meter, amount_kobo=5_000_00, created_at=at(2025, 5, 1, 9))
    make_payment(resident, decoder, amount_kobo=1_500_00, created_at=at(2025, 5, 2, 9))
    make_payment(resident, meter, amount_kobo=7_500_00, created_at=at(2025, 5, 3, 9))
    make_payment(resident, meter, status="failed", amount_kobo=9_000_00, created_at=at(2025, 5, 4, 9))
    html = home(logged_in)
    links = re.findall(r'href="(/pay/\?account=\d+&amp;amount=\d+)"', html)
    assert links == [f"/pay/?account={meter.id}&amp;amount=750000", f"/pay/?account={decoder.id}&amp;amount=150000"]
    assert "Flat 3 meter · ₦7,500.00" in html


def test_no_pay_again_for_removed_accounts_or_entries_no_longer_offered(logged_in, resident, meter, decoder,
                                                                       tv_entry):
    make_payment(resident, meter)
    make_payment(resident, decoder)
    meter.removed_at = utcnow()
    tv_entry.is_active = False
    db.session.commit()
    html = home(logged_in)
    assert "/pay/?account=" not in html
    assert 'id="pay-again"' not in html


def test_at_most_four_shortcuts_newest_account_first(logged_in, resident, estate):
    entry = make_catalogue_entry(estate)
    accounts = [make_utility_account(resident, entry, f"450123400{n:02d}", nickname=f"Meter {n}") for n in range(6)]
    for n, account in enumerate(accounts):
        make_payment(resident, account, amount_kobo=(n + 1) * 1_000_00, created_at=at(2025, 5, 1 + n, 9))
    links = re.findall(r'href="/pay/\?account=(\d+)&amp;amount=(\d+)"', home(logged_in))
    assert links == [(str(a.id), str((n + 1) * 1_000_00)) for n, a in reversed(list(enumerate(accounts)))][:4]


# Latest tokens

def tokens_card(html: str) -> str:
    return html.split('id="meter-tokens"')[1].split("</ul>")[0]


def test_each_meters_latest_token_is_shown_with_a_copy_button(logged_in, resident, other_resident, meter):
    entry = meter.provider
    shop = make_utility_account(resident, entry, "45012340099", nickname="Shop meter")
    gone = make_utility_account(resident, entry, "45012340098", nickname="Old flat")
    make_payment(resident, meter, token="11112222333344445555", created_at=at(2025, 5, 1, 9))
    make_payment(resident, meter, token="66667777888899990000", amount_kobo=7_500_00, created_at=at(2025, 5, 3, 9))
    make_payment(resident, meter, status="failed", created_at=at(2025, 5, 4, 9))  # no token: the newest still shows
    make_payment(resident, shop, token="12121212121212121212", created_at=at(2025, 5, 2, 9))
    make_payment(resident, gone, token="98989898989898989898", created_at=at(2025, 5, 5, 9))
    gone.removed_at = utcnow()
    other_meter = make_utility_account(other_resident, entry, "45012340097", nickname="Not yours")
    make_payment(other_resident, other_meter, token="44444444444444444444")
    db.session.commit()
    card = tokens_card(home(logged_in))
    assert re.findall(r'data-copy="(\d+)"', card) == ["66667777888899990000", "12121212121212121212"]
    assert "6666 7777 8888 9999 0000" in card and "1111 2222" not in card and "₦7,500.00" in card
    assert 'aria-label="Copy the token for Flat 3 meter"' in card and "3 May, 10:00" in card  # Lagos time
    assert "Old flat" not in card and "Not yours" not in card


def test_without_tokens_there_is_no_tokens_card(logged_in, resident, meter):
    make_payment(resident, meter, status="failed")  # bought nothing, so no token
    assert 'id="meter-tokens"' not in home(logged_in)


# Estate bills

def test_open_estate_bills_are_listed_overdue_first_with_what_is_outstanding(logged_in, resident):
    later = make_estate_bill(resident, title="Service charge, August", due_date=date(2099, 8, 31))
    overdue = make_estate_bill(resident, title="Security levy, June", due_date=date(2025, 6, 30), status="overdue")
    part_paid = make_estate_bill(resident, title="Waste, July", amount_kobo=5_000_00, amount_paid_kobo=2_000_00,
                                 due_date=date(2099, 7, 31), status="partially_paid")
    make_estate_bill(resident, title="Water levy, May", status="paid", amount_paid_kobo=20_000_00)
    html = home(logged_in)
    bills = html[html.index('id="open-estate-bills"'):].split("</ul>")[0]
    assert [int(i) for i in re.findall(r"/bills/(\d+)/pay", bills)] == [overdue.id, part_paid.id, later.id]
    assert "Waste, July · ₦3,000.00 · due 31 Jul 2099" in bills
    assert bills.count("Overdue") == 1 and "Water levy" not in html


def test_without_open_bills_there_is_no_bills_card(logged_in):
    assert 'id="open-estate-bills"' not in home(logged_in)


# The layout around it

def test_the_unread_badge_counts_the_residents_unread_notifications(logged_in, resident, other_resident):
    assert "unread" not in home(logged_in).split("nav-notifications")[1][:300]
    notify(resident.id, "payment_succeeded", title="Paid", body="Your payment went through.", dedup_key="dash-1")
    notify(other_resident.id, "payment_succeeded", title="Paid", body="Someone else's.", dedup_key="dash-2")
    db.session.commit()
    assert "Notifications, 1 unread" in home(logged_in)
    for note in db.session.scalars(select(Notification).where(Notification.user_id == resident.id)):
        note.read_at = utcnow()
    db.session.commit()
    assert "unread" not in home(logged_in).split("nav-notifications")[1][:300]


def test_a_flash_message_shows_once(logged_in):
    with logged_in.session_transaction() as session:
        session["_flashes"] = [("success", "Your wallet was funded.")]
    assert "Your wallet was funded." in home(logged_in)
    assert "Your wallet was funded." not in home(logged_in)


def test_the_pages_own_csrf_token_signs_the_resident_out(logged_in):
    token = csrf_token_from(home(logged_in))
    response = logged_in.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# What it costs

def test_the_page_is_read_before_rendering_and_renders_without_sql(app, logged_in, resident, meter, decoder):
    """Two statements after the user's, none while the templates run: nothing on the page lazy-loads."""
    make_payment(resident, meter, token="12345678901234567890")
    make_payment(resident, decoder, status=PaymentStatus.UNKNOWN)
    make_estate_bill(resident)
    notify(resident.id, "payment_succeeded", title="Paid", body="Your payment went through.", dedup_key="dash-3")
    db.session.commit()
    fetch(logged_in, "/")  # warm up
    marks: list[int] = []

    def mark(_app, **_extra):
        marks.append(len(statements))

    with counted_statements() as statements:
        before_render_template.connect(mark, app)
        template_rendered.connect(mark, app)
        try:
            assert fetch(logged_in, "/").status_code == 200
        finally:
            before_render_template.disconnect(mark, app)
            template_rendered.disconnect(mark, app)
    queries = [s for s in statements if s.strip().upper() != "BEGIN"]
    assert len(queries) == 3 and queries[0].lstrip().startswith("SELECT users."), "\n".join(queries)
    assert marks == [len(statements), len(statements)], "SQL ran while the templates rendered"


# Spend chart

@pytest.fixture
def seeded_spend(resident, other_resident, meter, decoder, power_entry):
    """Payments around the chart's edges; returns the resident's rows the chart may count."""
    rows = [
        make_payment(resident, meter, amount_kobo=4_000_00, created_at=at(2025, 6, 1, 10)),
        make_payment(resident, meter, amount_kobo=2_000_00, created_at=at(2025, 5, 31, 23, 30)),  # 1 June in Lagos
        make_payment(resident, meter, amount_kobo=3_000_00, created_at=at(2025, 5, 31, 22, 30)),  # 31 May in Lagos
        make_payment(resident, meter, amount_kobo=1_000_00, created_at=at(2024, 6, 30, 23, 30)),  # 1 July in Lagos
        make_payment(resident, meter, amount_kobo=9_000_00, created_at=at(2024, 6, 30, 22, 30)),  # too old
        make_payment(resident, decoder, amount_kobo=12_500_00, created_at=at(2025, 1, 15, 8)),
        make_payment(resident, decoder, amount_kobo=6_200_00, created_at=at(2025, 6, 10, 8)),
        make_payment(resident, meter, status="failed", amount_kobo=50_000_00, created_at=at(2025, 6, 2, 8)),
        make_payment(resident, meter, status="unknown", amount_kobo=60_000_00, created_at=at(2025, 6, 3, 8)),
    ]
    make_payment(other_resident, make_utility_account(other_resident, power_entry), amount_kobo=70_000_00,
                 created_at=at(2025, 6, 4, 8))
    return rows


def expected_spend(payments) -> dict[tuple[str, str], int]:
    """Succeeded spend (amount + fee) per Lagos calendar month and type, inside the chart's window."""
    totals: Counter = Counter()
    for p in payments:
        month = p.created_at.astimezone(LAGOS).strftime("%Y-%m")
        if p.status == "succeeded" and month in WINDOW:
            totals[(month, p.utility_type)] += p.amount_kobo + p.fee_kobo
    return dict(totals)


def test_chart_has_a_bar_per_month_and_type_with_succeeded_spend(auth, resident, seeded_spend):
    with time_machine.travel(NOW, tick=False):
        auth.login("ada@example.com")
        html = home(auth.client)
    bars = chart_bars(html)
    assert bars == expected_spend(seeded_spend)
    assert bars[("2025-06", "electricity")] == 4_000_00 + 2_000_00 + 2 * 100_00
    assert ("2024-06", "electricity") not in bars


def test_chart_stacks_types_within_a_month(auth, resident, seeded_spend):
    with time_machine.travel(NOW, tick=False):
        auth.login("ada@example.com")
        html = home(auth.client)
    june = {kind: (int(y), int(h)) for y, h, month, kind, _ in RECT.findall(html) if month == "2025-06"}
    (power_y, power_h), (tv_y, tv_h) = june["electricity"], june["cable_tv"]
    assert tv_y + tv_h == power_y  # cable TV sits on top of electricity
    # Heights follow the amounts: ₦6,200 of TV against ₦6,200 of power (fees included) in June.
    assert abs(tv_h - power_h) <= 1


def test_chart_months_are_the_residents_own_across_summer_time(auth, resident, meter, decoder):
    """Each month's edges are local midnights, an hour apart from UTC in summer and none in winter."""
    resident.timezone = "Europe/London"
    payments = [
        make_payment(resident, meter, amount_kobo=1_000_00, created_at=at(2025, 3, 31, 22, 30)),  # 23:30 BST, March
        make_payment(resident, meter, amount_kobo=2_000_00, created_at=at(2025, 3, 31, 23, 30)),  # 00:30 BST, April
        make_payment(resident, decoder, amount_kobo=3_000_00, created_at=at(2024, 11, 30, 23, 59)),  # GMT, November
        make_payment(resident, decoder, amount_kobo=4_000_00, created_at=at(2024, 12, 1, 0, 0)),  # GMT, December
        make_payment(resident, meter, amount_kobo=5_000_00, created_at=at(2025, 5, 31, 23, 0)),  # 00:00 BST, June
        make_payment(resident, meter, amount_kobo=6_000_00, created_at=at(2024, 6, 30, 23, 0)),  # 00:00 BST, July 2024
        make_payment(resident, meter, amount_kobo=7_000_00, created_at=at(2024, 6, 30, 22, 59)),  # June 2024: too old
    ]
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        auth.login("ada@example.com")
        html = home(auth.client)
    london = ZoneInfo("Europe/London")
    expected: Counter = Counter()
    for p in payments:
        month = p.created_at.astimezone(london).strftime("%Y-%m")
        if month in WINDOW:
            expected[(month, p.utility_type)] += p.amount_kobo + p.fee_kobo
    assert chart_bars(html) == dict(expected)
    assert ("2025-03", "electricity") in expected and ("2025-04", "electricity") in expected
    assert ("2024-07", "electricity") in expected and ("2024-06", "electricity") not in expected


def test_chart_is_described_for_screen_readers_with_a_table_fallback(auth, resident, seeded_spend):
    with time_machine.travel(NOW, tick=False):
        auth.login("ada@example.com")
        html = home(auth.client)
    assert re.search(r'<svg id="spend-chart"[^>]*role="img"[^>]*aria-labelledby="spend-chart-title spend-chart-desc"',
                     html, re.S)
    assert '<title id="spend-chart-title">Monthly spend by utility type, last 12 months</title>' in html
    assert "from July 2024 to June 2025" in html[html.index('<desc id="spend-chart-desc">'):]
    table = html[html.index('id="spend-table"'):]
    assert "<th scope=\"row\">June 2025</th>" in table
    assert "₦12,400.00" in table  # June: ₦6,200 power incl. fees + ₦6,200 TV


def test_chart_without_spend_says_so_instead_of_drawing(logged_in):
    html = home(logged_in)
    assert 'id="spend-chart"' not in html
    assert "No completed payments from" in html


@pytest.mark.parametrize("kobo", [0, 1, 99, 100, 123_405, 100_000_000, 987_654_321_012, -1, -250_050])
def test_chart_money_labels_read_exactly_like_babel_writes_naira(app, kobo):
    assert charts.money(kobo) == format_currency(Decimal(kobo) / 100, "NGN", locale="en_NG")


@pytest.mark.parametrize(("max_kobo", "step"), [(0, 100), (1, 100), (40_000, 100_00), (40_001, 200_00),
                                                 (1_240_000, 500_000), (9_999_999, 5_000_000)])
def test_chart_scale_uses_round_steps_that_cover_the_highest_month(max_kobo, step):
    assert charts.nice_step(max_kobo) == step
    assert 4 * step >= max_kobo
