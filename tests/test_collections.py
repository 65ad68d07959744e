"""Collections: a month's billed, collected and outstanding totals, the defaulters with their filters
and CSV download, and a resident's statement shown to an admin and emailed to the resident."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import time_machine
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditEntry, EmailMessage
from webapp.services import payments

from . import factories
from .factories_automations import make_estate_bill
from .payments.helpers import fund, run_worker


@pytest.fixture(autouse=True)
def frozen_day():
    with time_machine.travel("2031-03-20 10:00 +01:00", tick=False):
        yield


@pytest.fixture
def bills(estate, resident, other_resident):
    """March: Ada owes one overdue security bill (due 5 March) and paid ₦5,000 of a service charge;
    Bola owes an overdue maintenance bill (due 15 March) and one of February; a cancelled one."""
    return {
        "ada_security": make_estate_bill(resident, 20_000_00, "security", date(2031, 3, 5), status="overdue"),
        "ada_service": make_estate_bill(resident, 10_000_00, "service_charge", date(2031, 3, 25),
                                        amount_paid_kobo=5_000_00, status="partially_paid"),
        "bola_maintenance": make_estate_bill(other_resident, 8_000_00, "maintenance", date(2031, 3, 15),
                                             status="overdue"),
        "bola_february": make_estate_bill(other_resident, 3_000_00, "security", date(2031, 2, 10), status="overdue"),
        "cancelled": make_estate_bill(resident, 50_000_00, "security", date(2031, 3, 10), status="cancelled"),
    }


def text(response) -> str:
    return response.get_data(as_text=True)


def defaulter_rows(html: str) -> dict[str, list[str]]:
    rows = re.findall(r'<tr id="defaulter-(\d+)">(.*?)</tr>', html, re.S)
    return {uid: re.findall(r'<td class="num">([^<]*)</td>', row) for uid, row in rows}


# --- totals and defaulters ---------------------------------------------------------------------------

def test_this_months_totals_leave_out_cancelled_bills(as_admin, bills):
    html = text(as_admin.client.get("/admin/bills/collections"))
    totals = re.search(r'id="collection-totals">(.*?)</dl>', html, re.S).group(1)
    assert "<dd>3</dd>" in totals and "₦38,000.00" in totals and "₦5,000.00" in totals and "₦33,000.00" in totals


def test_the_month_filter_shows_another_months_totals(as_admin, bills):
    html = text(as_admin.client.get("/admin/bills/collections?month=2031-02"))
    assert "February 2031" in html and "₦3,000.00" in html


def test_defaulters_are_residents_with_overdue_bills_and_their_days_overdue(as_admin, bills, resident,
                                                                             other_resident):
    rows = defaulter_rows(text(as_admin.client.get("/admin/bills/collections")))
    assert rows == {str(resident.id): ["1", "₦20,000.00", "15"], str(other_resident.id): ["2", "₦11,000.00", "38"]}


def test_minimum_days_and_bill_type_filter_the_defaulters(as_admin, bills, resident, other_resident):
    assert defaulter_rows(text(as_admin.client.get("/admin/bills/collections?min_days=20"))).keys() == {
        str(other_resident.id)}
    rows = defaulter_rows(text(as_admin.client.get("/admin/bills/collections?type=security")))
    assert rows == {str(resident.id): ["1", "₦20,000.00", "15"], str(other_resident.id): ["1", "₦3,000.00", "38"]}


def test_a_past_month_counts_only_bills_due_by_its_end(as_admin, bills, other_resident):
    rows = defaulter_rows(text(as_admin.client.get("/admin/bills/collections?month=2031-02")))
    assert rows == {str(other_resident.id): ["1", "₦3,000.00", "38"]}


@pytest.mark.parametrize(("query", "message", "kept"), [
    ("month=March", "“March” is not a month. Enter it as YYYY-MM.", None),
    ("month=2031-13", "is not a month", None),
    ("min_days=abc", "“abc” is not a number of days", 'value="abc"'),
    ("min_days=-3", "is not a number of days", 'value="-3"'),
    ("min_days=99999999999999999999", "is not a number of days", None),
    ("type=rent", "Choose a bill type from the list", None),
])
def test_a_filter_that_cannot_be_used_is_told_and_the_page_still_shows(as_admin, bills, query, message, kept):
    response = as_admin.client.get(f"/admin/bills/collections?{query}")
    html = text(response)
    assert response.status_code == 200 and message in html and "March 2031" in html
    assert kept is None or kept in html
    assert len(defaulter_rows(html)) == 2


def test_an_htmx_filter_gets_the_results_alone(as_admin, bills):
    response = as_admin.client.get("/admin/bills/collections?min_days=20", headers={"HX-Request": "true"})
    html = text(response)
    assert "<html" not in html and 'id="defaulters"' in html and "HX-Request" in response.headers["Vary"]


def test_the_csv_has_the_defaulters_the_page_shows(as_admin, bills, resident, other_resident):
    response = as_admin.client.get("/admin/bills/collections.csv?type=security")
    assert response.mimetype == "text/csv" and "defaulters-2031-03.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response).lstrip("\ufeff"))))
    assert rows == [["Resident", "Email", "Overdue bills", "Outstanding (NGN)", "Oldest due date", "Days overdue"],
                    ["Ada Okafor", "ada@example.com", "1", "20000.00", "2031-03-05", "15"],
                    ["Bola Adeyemi", "bola@example.com", "1", "3000.00", "2031-02-10", "38"]]


def test_a_name_that_looks_like_a_formula_is_text_in_the_csv(as_admin, estate):
    sly = factories.make_user(estate=estate, email="sly@example.com", full_name="=HYPERLINK(1)")
    make_estate_bill(sly, 1_000_00, "security", date(2031, 3, 1), status="overdue")
    rows = list(csv.reader(io.StringIO(text(as_admin.client.get("/admin/bills/collections.csv")).lstrip("\ufeff"))))
    assert rows[1][0] == "'=HYPERLINK(1)"


def test_another_estates_collections_are_404_and_its_residents_never_listed(as_admin, bills, other_estate):
    stranger = factories.make_user(estate=other_estate, email="stranger@example.com")
    make_estate_bill(stranger, 1_000_00, "security", date(2031, 3, 1), status="overdue")
    for path in ("/admin/bills/collections", "/admin/bills/collections.csv"):
        assert as_admin.client.get(f"{path}?estate={other_estate.id}").status_code == 404
    assert "stranger@example.com" not in text(as_admin.client.get("/admin/bills/collections"))


@pytest.mark.parametrize("path", ["/admin/bills/collections", "/admin/bills/collections.csv",
                                  "/admin/bills/statement?resident={id}"])
def test_residents_get_404_on_collections_and_statements(as_resident, resident, path):
    assert as_resident.client.get(path.format(id=resident.id)).status_code == 404


# --- a resident's statement ----------------------------------------------------------------------------

@pytest.fixture
def paid_part(app, jobs_run_here, bills, resident):
    fund(resident, 50_000_00)
    payment = payments.new_estate_bill_payment(resident, bills["ada_security"], 7_500_00)
    db.session.commit()
    payments.enqueue(payment)
    run_worker()
    return payment


def test_an_admin_sees_a_residents_bills_payments_and_totals(as_admin, bills, paid_part, resident):
    html = text(as_admin.client.get(f"/admin/bills/statement?resident={resident.id}"))
    for bill in (bills["ada_security"], bills["ada_service"], bills["cancelled"]):
        assert f'id="statement-bill-{bill.id}"' in html
    assert f'id="statement-bill-{bills["bola_maintenance"].id}"' not in html
    assert paid_part.reference in html and "₦7,500.00" in html
    totals = re.search(r'id="statement-totals">(.*?)</dl>', html, re.S).group(1)
    # Billed ₦30,000 (cancelled left out), paid ₦12,500, outstanding ₦17,500.
    assert "₦30,000.00" in totals and "₦12,500.00" in totals and "₦17,500.00" in totals


def test_another_estates_resident_statement_is_404(as_admin, other_estate):
    stranger = factories.make_user(estate=other_estate, email="stranger@example.com")
    assert as_admin.client.get(f"/admin/bills/statement?resident={stranger.id}").status_code == 404
    assert as_admin.post("/admin/bills/statement/send", {"resident": str(stranger.id), "send_key": "k" * 24},
                         page="/admin/bills/statement").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 0


def test_a_resident_id_that_is_not_a_number_is_told(as_admin, bills):
    response = as_admin.client.get("/admin/bills/statement?resident=abc")
    assert response.status_code == 200 and "Choose a resident from the list." in text(response)
    assert 'id="estate-balance"' in text(response)


def test_sending_emails_the_statement_once_per_form_with_an_audit_row(as_admin, bills, resident):
    page = f"/admin/bills/statement?resident={resident.id}"
    html = text(as_admin.client.get(page))
    key = re.search(r'name="send_key"[^>]*value="([^"]+)"', html).group(1)
    form = {"resident": str(resident.id), "send_key": key}
    for _ in range(2):  # a resubmitted form
        assert as_admin.post("/admin/bills/statement/send", form, page=page).status_code == 302
    db.session.rollback()
    [email] = db.session.scalars(select(EmailMessage)).all()
    assert email.to_address == "ada@example.com" and "statement" in email.subject
    assert "Security" in email.body_text and "Outstanding: ₦25,000.00" in email.body_text
    [row] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "bill.statement_sent")).all()
    assert row.object_id == resident.id and row.after["outstanding_kobo"] == 25_000_00


def test_a_send_without_a_valid_form_sends_nothing(as_admin, bills, resident):
    response = as_admin.post("/admin/bills/statement/send", {"resident": str(resident.id), "send_key": ""},
                             page="/admin/bills/statement")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 0
