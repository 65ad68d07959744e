"""The resident's home page: balance, recent payments, pay-again shortcuts and the spend chart."""
from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Account
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.presentation import charts
from webapp.services import ledger

from .factories_payments import make_payment, make_utility_account

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
def test_chart_money_labels_read_exactly_like_the_naira_filter(app, kobo):
    assert charts.money(kobo) == naira(kobo)


@pytest.mark.parametrize(("max_kobo", "step"), [(0, 100), (1, 100), (40_000, 100_00), (40_001, 200_00),
                                                 (1_240_000, 500_000), (9_999_999, 5_000_000)])
def test_chart_scale_uses_round_steps_that_cover_the_highest_month(max_kobo, step):
    assert charts.nice_step(max_kobo) == step
    assert 4 * step >= max_kobo
