"""The accountant's export: the estate wallet's ledger and the collections for a period, as CSV and
XLSX, reconciled with the ledger after real estate bill payments (and a refund) made through the
payment path, at times on both sides of the period's edges (Lagos days, UTC+1)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Account, Payment, Posting
from webapp.services import estate_bills, ledger, payments
from webapp.services.payments import admin_actions

from . import factories
from .factories_automations import make_estate_bill
from .payments.helpers import fund

OCTOBER = "?from=2026-10-01&to=2026-10-31"
OCTOBER_ENDS = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # midnight of 1 November in Lagos


def at(year, month, day, hour=12, minute=0):
    return time_machine.travel(datetime(year, month, day, hour, minute, tzinfo=UTC), tick=True)


def pay(resident, bill, amount_kobo: int) -> Payment:
    payment = estate_bills.pay_from_wallet(resident, bill.id, amount_kobo)
    assert payments.process(payment.id) == "succeeded"
    db.session.rollback()
    return db.session.get(Payment, payment.id)


@pytest.fixture
def scenario(estate, resident, estate_admin):
    """September leaves ₦15,000 in the estate wallet; October pays ₦39,000 in and refunds ₦5,000;
    ₦6,000 arrives 30 minutes after October ends in Lagos (still 31 October in UTC)."""
    with at(2026, 9, 20):
        fund(resident, 100_000_00)
    with at(2026, 9, 25):
        september = make_estate_bill(resident, amount_kobo=20_000_00, bill_type="security", title="Security, Sept")
    with at(2026, 9, 28):
        pay(resident, september, 15_000_00)
    with at(2026, 10, 5):
        service = make_estate_bill(resident, amount_kobo=30_000_00, bill_type="service_charge", title="Service")
    with at(2026, 10, 10):
        paid_in_full = pay(resident, service, 30_000_00)
    with at(2026, 10, 12):
        rest_of_september = pay(resident, september, 5_000_00)
    with at(2026, 10, 15):
        security = make_estate_bill(resident, amount_kobo=10_000_00, bill_type="security", title="Security, Oct")
    with at(2026, 10, 16):
        waste = make_estate_bill(resident, amount_kobo=7_000_00, bill_type="waste_management", title="Waste")
        estate_bills.cancel_bill(waste.id, "issued twice")
    with at(2026, 10, 22):
        admin_actions.refund_succeeded(rest_of_september.id, estate_admin, "paid by transfer instead")
    with at(2026, 10, 31, 22, 30):  # 23:30 on 31 October in Lagos: inside
        last_in = pay(resident, security, 4_000_00)
    with at(2026, 10, 31, 23, 30):  # 00:30 on 1 November in Lagos: outside
        pay(resident, security, 6_000_00)
    with at(2026, 11, 2):
        make_estate_bill(resident, amount_kobo=9_000_00, bill_type="maintenance", title="Maintenance, Nov")
    return {"paid_in_full": paid_in_full, "refunded": rest_of_september, "last_in": last_in, "service": service,
            "security": security}


def csv_of(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def kobo(text: str) -> int:
    return int(Decimal(text) * 100) if text else 0


def estate_balance_before(estate_id: int, moment: datetime) -> int:
    """The estate wallet's balance at ``moment``, summed from its postings here, not by the export."""
    account_id = db.session.scalar(select(Account.id).where(Account.estate_id == estate_id))
    return int(db.session.scalar(select(func.coalesce(func.sum(Posting.amount_kobo), 0)).where(
        Posting.account_id == account_id, Posting.created_at < moment)))


# --- the ledger ---------------------------------------------------------------------------------

def test_the_ledger_csv_reconciles_with_the_ledger(client, as_admin, estate, scenario):
    rows = csv_of(client.get(f"/admin/exports/ledger.csv{OCTOBER}"))
    header, opening, *lines, totals, closing = rows
    assert header[6:] == ["Debit (NGN)", "Credit (NGN)", "Balance (NGN)"]
    assert (opening[2], kobo(opening[8])) == ("Opening balance", 15_000_00)
    debits, credits = sum(kobo(line[6]) for line in lines), sum(kobo(line[7]) for line in lines)
    assert (kobo(totals[6]), kobo(totals[7])) == (debits, credits) == (5_000_00, 39_000_00)
    assert closing[2] == "Closing balance"
    assert kobo(opening[8]) + credits - debits == kobo(closing[8]) == 49_000_00
    assert kobo(closing[8]) == estate_balance_before(estate.id, OCTOBER_ENDS)
    assert ledger.check_invariants() == []


def test_each_ledger_line_has_its_date_memo_counterpart_references_and_running_balance(client, as_admin, scenario):
    _header, _opening, *lines, _totals, _closing = csv_of(client.get(f"/admin/exports/ledger.csv{OCTOBER}"))
    assert [(line[0][:10], line[2], line[4], line[6], line[7], line[8]) for line in lines] == [
        ("2026-10-10", "Estate bill payment", scenario["paid_in_full"].reference, "", "30000.00", "45000.00"),
        ("2026-10-12", "Estate bill payment", scenario["refunded"].reference, "", "5000.00", "50000.00"),
        ("2026-10-22", "Refund: Estate bill payment", scenario["refunded"].reference, "5000.00", "", "45000.00"),
        ("2026-10-31", "Estate bill payment", scenario["last_in"].reference, "", "4000.00", "49000.00"),
    ]
    assert lines[0][0] == "2026-10-10 13:00:00"  # Lagos time
    assert {line[3] for line in lines} == {"Resident wallet: Ada Okafor"}
    refunded_bill = str(scenario["refunded"].bill_id)
    assert [line[5] for line in lines] == [str(scenario["paid_in_full"].bill_id), refunded_bill, refunded_bill,
                                           str(scenario["security"].id)]


def test_the_default_period_is_last_month(client, auth, estate_admin, scenario):
    with at(2026, 11, 15):
        auth.login(estate_admin.email)
        html = client.get("/admin/exports/").get_data(as_text=True)
    assert "From 2026-10-01 to 2026-10-31." in html
    assert 'id="export-closing">₦49,000.00' in html and 'id="export-opening">₦15,000.00' in html
    assert "/admin/exports/accounts.xlsx?from=2026-10-01&amp;to=2026-10-31" in html


@pytest.mark.parametrize(("query", "message", "kept"), [
    ("?from=2026-13-01&to=2026-10-31", "“2026-13-01” is not a date for “from”", 'value="2026-13-01"'),
    ("?from=1999-10-01&to=2026-10-31", "“1999-10-01” is out of range for “from”", 'value="1999-10-01"'),
    ("?from=2026-11-01&to=2026-10-31", "The “from” date is after the “to” date.", 'value="2026-11-01"'),
    ("?from=2024-01-01&to=2026-10-31", "Choose at most 366 days.", 'value="2024-01-01"'),
    ("?from=31/10/2026&to=x" + "9" * 500, "is not a date for “to”", 'value="31/10/2026"'),
])
def test_dates_that_cannot_be_used_say_why_keep_the_input_and_export_nothing(client, as_admin, scenario, query,
                                                                             message, kept):
    page = client.get(f"/admin/exports/{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and message in html and kept in html
    assert "Nothing was exported" in html and "accounts.xlsx" not in html
    for download in ("ledger.csv", "collections.csv", "accounts.xlsx"):
        response = client.get(f"/admin/exports/{download}{query}")
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_an_estate_with_no_money_yet_exports_zeros(client, as_admin):
    rows = csv_of(client.get(f"/admin/exports/ledger.csv{OCTOBER}"))
    assert [(r[2], r[6], r[7], r[8]) for r in rows[1:]] == [
        ("Opening balance", "", "", "0.00"), ("Totals", "0.00", "0.00", ""), ("Closing balance", "", "", "0.00")]


# --- the collections ----------------------------------------------------------------------------

def test_the_collections_csv_counts_the_bills_issued_in_the_period_per_type(client, as_admin, scenario):
    header, *rows = csv_of(client.get(f"/admin/exports/collections.csv{OCTOBER}"))
    assert header[0] == "Bill type"
    assert rows == [
        ["Security", "1", "0", "10000.00", "4000.00", "6000.00"],  # the ₦6,000 came after the period
        ["Service charge", "1", "0", "30000.00", "30000.00", "0.00"],
        ["Waste management", "1", "1", "0.00", "0.00", "0.00"],
        ["Total", "3", "1", "40000.00", "34000.00", "6000.00"],
    ]


# --- the workbook -------------------------------------------------------------------------------

def test_the_workbook_has_a_ledger_and_a_collections_sheet_with_naira_numbers(client, as_admin, estate, scenario):
    response = client.get(f"/admin/exports/accounts.xlsx{OCTOBER}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="estate-{estate.id}-2026-10-01-to-2026-10-31.xlsx"' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Ledger", "Collections"]
    sheet = book["Ledger"]
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    header, opening, *lines, totals, closing = rows
    assert header[6:] == ("Debit (NGN)", "Credit (NGN)", "Balance (NGN)")
    assert opening[2] == "Opening balance" and opening[8] == 15000
    assert [(line[6], line[7], line[8]) for line in lines] == [
        (None, 30000, 45000), (None, 5000, 50000), (5000, None, 45000), (None, 4000, 49000)]
    assert lines[0][0].replace(second=0, microsecond=0) == datetime(2026, 10, 10, 13, 0)  # Lagos time
    assert (totals[2], totals[6], totals[7]) == ("Totals", 5000, 39000)
    assert (closing[2], closing[8]) == ("Closing balance", 49000)
    assert Decimal(str(opening[8])) + Decimal(str(totals[7])) - Decimal(str(totals[6])) == Decimal(str(closing[8]))
    assert round(closing[8] * 100) == estate_balance_before(estate.id, OCTOBER_ENDS)
    money_cell = sheet.cell(row=5, column=9)
    assert isinstance(money_cell.value, int | float) and "₦" in money_cell.number_format
    assert money_cell.number_format.split(";")[0].endswith("0.00")
    collections = list(book["Collections"].iter_rows(min_row=5, values_only=True))
    assert collections[-1] == ("Total", 3, 1, 40000, 34000, 6000)
    assert ledger.check_invariants() == []


def test_text_that_looks_like_a_formula_stays_text(client, auth, estate):
    resident = factories.make_user(estate=estate, email="eve@example.com", full_name="=HYPERLINK(\"x\")")
    admin = factories.make_user(estate=estate, email="manager@example.com", role="estate_admin")
    bill = make_estate_bill(resident, amount_kobo=1_000_00)
    fund(resident, 5_000_00)
    pay(resident, bill, 1_000_00)
    auth.login(admin.email)
    today = date.today().isoformat()
    book = load_workbook(io.BytesIO(client.get(f"/admin/exports/accounts.xlsx?from={today}&to={today}").data))
    cell = book["Ledger"].cell(row=6, column=4)
    assert cell.data_type == "s" and cell.value == 'Resident wallet: =HYPERLINK("x")'
    rows = csv_of(client.get(f"/admin/exports/ledger.csv?from={today}&to={today}"))
    assert rows[2][3] == 'Resident wallet: =HYPERLINK("x")'  # does not start with "=", so unchanged


# --- who may export -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["manager", "finance", "viewer"])
def test_every_admin_role_of_the_estate_may_export(client, auth, estate, scenario, role):
    admin = factories.make_user(estate=estate, email=f"{role}@example.com", role="estate_admin", admin_role=role)
    auth.login(admin.email)
    for download in ("ledger.csv", "collections.csv", "accounts.xlsx"):
        assert client.get(f"/admin/exports/{download}{OCTOBER}").status_code == 200, download
    assert "₦49,000.00" in client.get(f"/admin/exports/{OCTOBER}").get_data(as_text=True)


def test_another_estates_admin_gets_nothing_of_this_estate(client, auth, estate, other_admin, scenario):
    auth.login(other_admin.email)
    rows = csv_of(client.get(f"/admin/exports/ledger.csv{OCTOBER}"))
    assert [kobo(r[8]) for r in rows if r[2] in ("Opening balance", "Closing balance")] == [0, 0]
    assert len(rows) == 4
    for download in ("", "ledger.csv", "collections.csv", "accounts.xlsx"):
        assert client.get(f"/admin/exports/{download}{OCTOBER}&estate={estate.id}").status_code == 404


def test_a_resident_gets_404(client, as_resident, scenario):
    for download in ("", "ledger.csv", "collections.csv", "accounts.xlsx"):
        assert client.get(f"/admin/exports/{download}{OCTOBER}").status_code == 404


def test_a_platform_admin_picks_the_estate(client, auth, estate, scenario):
    root = factories.make_user(email="root@example.com", role="platform_admin")
    auth.login(root.email)
    assert "Which estate do you want to export the accounts for?" in client.get("/admin/exports/").get_data(
        as_text=True)
    rows = csv_of(client.get(f"/admin/exports/ledger.csv{OCTOBER}&estate={estate.id}"))
    assert kobo(rows[-1][8]) == 49_000_00
