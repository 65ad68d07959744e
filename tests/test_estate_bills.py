"""Estate bills: issuing (chosen residents or all), cancelling, listing, the estate wallet statement,
and residents paying them from their wallet into the estate's wallet."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditEntry, Bill, Notification, Payment
from webapp.services import ledger, payments

from . import factories
from .factories_automations import make_estate_bill
from .payments.helpers import fund, run_worker

DUE = date.today() + timedelta(days=10)


@pytest.fixture
def foreign_resident(other_estate):
    return factories.make_user(estate=other_estate, email="tunde@example.com", full_name="Tunde Bakare")


@pytest.fixture
def foreign_bill(foreign_resident):
    return make_estate_bill(foreign_resident, due_date=DUE)


@pytest.fixture
def bill(resident):
    return make_estate_bill(resident, amount_kobo=20_000_00, due_date=DUE, title="Service charge, June")


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_rows() -> list[AuditEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def bill_rows() -> list[tuple]:
    db.session.rollback()
    return [(b.id, b.user_id, b.status, b.amount_kobo, b.amount_paid_kobo)
            for b in db.session.scalars(select(Bill).order_by(Bill.id))]


def payment_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Payment.id)))


def issue_form(**fields) -> dict:
    return {"title": "Security levy, June", "bill_type": "security", "amount": "15,000", "due_date": DUE.isoformat(),
            "recipients": "all", **fields}


# --- authorization --------------------------------------------------------------------------------

ADMIN_GETS = ["/admin/bills/", "/admin/bills/new", "/admin/bills/statement"]
ADMIN_POSTS = ["/admin/bills/new", "/admin/bills/{id}/cancel"]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_a_resident_gets_404_on_every_bills_admin_get(as_resident, bill, path):
    assert as_resident.client.get(path.format(id=bill.id)).status_code == 404


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_a_resident_gets_404_on_every_bills_admin_post_and_nothing_changes(as_resident, bill, path):
    before = bill_rows()
    assert as_resident.post(path.format(id=bill.id), issue_form(), page="/bills/").status_code == 404
    assert bill_rows() == before and audit_rows() == []


@pytest.mark.parametrize("path", ["/bills/", "/bills/{id}/pay"])
def test_an_admin_gets_404_on_the_resident_bill_pages(as_admin, bill, path):
    assert as_admin.client.get(path.format(id=bill.id)).status_code == 404


def test_the_bill_list_shows_only_the_admins_own_estate(as_admin, bill, foreign_bill):
    html = text(as_admin.client.get("/admin/bills/"))
    assert f'id="bill-{bill.id}"' in html and f'id="bill-{foreign_bill.id}"' not in html


@pytest.mark.parametrize("path", ["/admin/bills/?estate={estate}", "/admin/bills/new?estate={estate}",
                                  "/admin/bills/statement?estate={estate}"])
def test_another_estates_bills_and_statement_are_404(as_admin, foreign_bill, path):
    assert as_admin.client.get(path.format(estate=foreign_bill.estate_id)).status_code == 404


def test_another_estates_bill_cannot_be_cancelled(as_admin, foreign_bill):
    before = bill_rows()
    assert as_admin.post(f"/admin/bills/{foreign_bill.id}/cancel", {}, page="/admin/bills/").status_code == 404
    assert bill_rows() == before and audit_rows() == []


def test_bills_cannot_be_issued_in_another_estate(as_admin, foreign_resident):
    url = f"/admin/bills/new?estate={foreign_resident.estate_id}"
    assert as_admin.post(url, issue_form(), page="/admin/bills/").status_code == 404
    assert bill_rows() == [] and audit_rows() == []


def test_a_platform_admin_picks_the_estate_to_bill(auth, estate, resident, foreign_resident):
    boss = factories.make_user(email="platform@example.com", role="platform_admin")
    auth.login(boss.email)
    assert "Choose an estate" in text(auth.client.get("/admin/bills/new"))
    url = f"/admin/bills/new?estate={foreign_resident.estate_id}"
    assert auth.post(url, issue_form(), page=url).status_code == 302
    assert [row[1] for row in bill_rows()] == [foreign_resident.id]


# --- issuing ---------------------------------------------------------------------------------------

def test_bulk_issue_bills_every_resident_once_with_one_audit_row(as_admin, estate, resident, other_resident,
                                                                 foreign_resident):
    assert as_admin.post("/admin/bills/new", issue_form()).status_code == 302
    bills = db.session.scalars(select(Bill).order_by(Bill.id)).all()
    assert sorted(b.user_id for b in bills) == sorted([resident.id, other_resident.id])
    assert {(b.amount_kobo, b.status, b.bill_type, b.category, b.due_date) for b in bills} == {
        (15_000_00, "pending", "security", "cluster_managed", DUE)}
    [row] = audit_rows()
    assert (row.action, row.estate_id, row.after["count"]) == ("bill.bulk_issue", estate.id, 2)
    assert sorted(row.after["bill_ids"]) == [b.id for b in bills]


def test_issuing_tells_each_billed_resident_once(as_admin, resident, other_resident):
    as_admin.post("/admin/bills/new", issue_form())
    told = db.session.scalars(select(Notification).where(Notification.event == "estate_bill_issued")).all()
    assert sorted(n.user_id for n in told) == sorted([resident.id, other_resident.id])
    assert all("₦15,000.00" in n.body for n in told)


def test_issuing_to_chosen_residents_bills_only_them(as_admin, resident, other_resident):
    response = as_admin.post("/admin/bills/new", issue_form(recipients="chosen", residents=[str(other_resident.id)]))
    assert response.status_code == 302
    assert [row[1] for row in bill_rows()] == [other_resident.id]
    assert [r.action for r in audit_rows()] == ["bill.issue"]


@pytest.mark.parametrize(("change", "message"), [
    ({"amount": "0"}, "greater than ₦0"),
    ({"amount": "-500"}, "greater than ₦0"),
    ({"amount": "lots"}, "numbers only"),
    ({"title": ""}, "Give the bill a title."),
    ({"bill_type": "electricity_utility"}, "Not a valid choice"),
    ({"due_date": (date.today() - timedelta(days=2)).isoformat()}, "from today onwards"),
    ({"due_date": "soon"}, "Not a valid date value"),
    ({"recipients": "chosen"}, "Choose one or more residents of this estate."),
])
def test_a_bad_issue_form_says_why_and_creates_nothing(as_admin, resident, change, message):
    response = as_admin.post("/admin/bills/new", issue_form(**change))
    assert response.status_code == 422 and message in text(response)
    assert bill_rows() == [] and audit_rows() == []


def test_a_resident_of_another_estate_cannot_be_billed(as_admin, resident, foreign_resident):
    response = as_admin.post("/admin/bills/new", issue_form(recipients="chosen",
                                                            residents=[str(resident.id), str(foreign_resident.id)]))
    assert response.status_code == 422 and "residents of this estate" in text(response)
    assert bill_rows() == [] and audit_rows() == []


# --- cancelling, listing, statement --------------------------------------------------------------

def test_an_unpaid_bill_can_be_cancelled_with_one_audit_row(as_admin, bill):
    response = as_admin.post(f"/admin/bills/{bill.id}/cancel", {"reason": "Issued twice"}, page="/admin/bills/")
    assert response.status_code == 302
    assert bill_rows()[0][2] == "cancelled"
    [row] = audit_rows()
    assert (row.action, row.object_id, row.before, row.after, row.reason) == (
        "bill.cancel", bill.id, {"status": "pending"}, {"status": "cancelled"}, "Issued twice")


def test_a_partly_paid_bill_cannot_be_cancelled(as_admin, resident):
    partly = make_estate_bill(resident, amount_kobo=10_000_00, amount_paid_kobo=2_000_00, status="partially_paid",
                              due_date=DUE)
    response = as_admin.post(f"/admin/bills/{partly.id}/cancel", {}, page="/admin/bills/", follow_redirects=True)
    assert "cannot be cancelled" in text(response)
    assert bill_rows()[0][2] == "partially_paid" and audit_rows() == []


def test_the_list_filters_by_status_type_and_due_month_with_totals(as_admin, resident, other_resident):
    june, july = date(2031, 6, 5), date(2031, 7, 5)
    a = make_estate_bill(resident, amount_kobo=10_000_00, bill_type="security", due_date=june)
    b = make_estate_bill(other_resident, amount_kobo=30_000_00, amount_paid_kobo=5_000_00, status="partially_paid",
                         bill_type="security", due_date=june)
    c = make_estate_bill(resident, amount_kobo=7_000_00, bill_type="maintenance", due_date=july)
    cancelled = make_estate_bill(resident, amount_kobo=99_000_00, bill_type="security", due_date=june,
                                 status="cancelled")

    def shown(query):
        html = text(as_admin.client.get(f"/admin/bills/?{query}"))
        return {x.id for x in (a, b, c, cancelled) if f'id="bill-{x.id}"' in html}, html

    assert shown("type=security&month=2031-06")[0] == {a.id, b.id, cancelled.id}
    assert shown("status=partially_paid")[0] == {b.id}
    ids, html = shown("month=2031-06")
    totals = html.split('id="bill-totals"')[1].split("</dl>")[0]
    # Billed leaves the cancelled bill out; outstanding counts open bills only.
    assert "₦40,000.00" in totals and "₦5,000.00" in totals and "₦35,000.00" in totals


def test_the_statement_is_empty_before_any_money_arrives(as_admin):
    assert "No money has reached the estate" in text(as_admin.client.get("/admin/bills/statement"))


# --- residents paying ------------------------------------------------------------------------------

def pay(auth, bill_id: int, amount: str, key: str = "k1"):
    return auth.post(f"/bills/{bill_id}/pay", {"amount": amount, "submit_key": key})


def test_residents_see_their_open_bills_first_with_what_is_outstanding(as_resident, resident, other_resident):
    paid = make_estate_bill(resident, amount_kobo=5_000_00, amount_paid_kobo=5_000_00, status="paid", due_date=DUE)
    part = make_estate_bill(resident, amount_kobo=10_000_00, amount_paid_kobo=4_000_00, status="partially_paid",
                            due_date=DUE)
    someone_elses = make_estate_bill(other_resident, due_date=DUE)
    html = text(as_resident.client.get("/bills/"))
    assert html.index(f'id="bill-{part.id}"') < html.index(f'id="bill-{paid.id}"')
    assert "₦6,000.00" in html and "Partly paid" in html
    assert f'id="bill-{someone_elses.id}"' not in html


def test_paying_in_full_moves_money_to_the_estate_wallet_and_marks_the_bill_paid(as_resident, resident, bill):
    fund(resident, 50_000_00)
    response = pay(as_resident, bill.id, "20,000")
    assert response.status_code == 302
    payment = db.session.scalars(select(Payment)).one()
    assert response.headers["Location"].endswith(f"/pay/{payment.id}")
    run_worker()
    assert db.session.get(Payment, payment.id).status == "succeeded"
    assert db.session.get(Bill, bill.id).status == "paid"
    assert ledger.wallet_balance(resident.id) == 30_000_00
    assert ledger.balance(ledger.estate_account(resident.estate_id).id) == 20_000_00
    assert ledger.check_invariants() == []


def test_a_part_payment_leaves_the_bill_partly_paid(as_resident, resident, bill):
    fund(resident, 50_000_00)
    pay(as_resident, bill.id, "5000.50")
    run_worker()
    paid = db.session.get(Bill, bill.id)
    assert (paid.status, paid.amount_paid_kobo, paid.outstanding_kobo) == ("partially_paid", 5_000_50, 14_999_50)
    assert ledger.check_invariants() == []


def test_a_part_payment_then_the_rest_pays_the_bill(as_resident, resident, bill):
    fund(resident, 50_000_00)
    pay(as_resident, bill.id, "15000", key="first")
    run_worker()
    pay(as_resident, bill.id, "5000", key="second")
    run_worker()
    assert db.session.get(Bill, bill.id).status == "paid"
    assert ledger.balance(ledger.estate_account(resident.estate_id).id) == 20_000_00
    assert ledger.check_invariants() == []


def test_the_payment_status_page_shows_an_estate_bill_payment(as_resident, resident, bill):
    fund(resident, 50_000_00)
    location = pay(as_resident, bill.id, "20000").headers["Location"]
    run_worker()
    html = text(as_resident.client.get(location))
    assert "Paid." in html and "₦20,000.00" in html


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "greater than ₦0"),
    ("-100", "greater than ₦0"),
    ("abc", "numbers only"),
    ("20,000.01", "The most you can pay on this bill now is ₦20,000.00."),
    ("50", "Pay at least ₦100.00, or the full ₦20,000.00."),
    ("15000", "Your wallet has ₦10,000.00"),
])
def test_bad_payment_input_says_why_and_creates_nothing(as_resident, resident, bill, amount, message):
    fund(resident, 10_000_00)
    response = pay(as_resident, bill.id, amount)
    assert response.status_code == 422 and message in text(response)
    assert payment_count() == 0 and bill_rows()[0][2:] == ("pending", 20_000_00, 0)


def test_a_remainder_below_100_naira_can_be_paid_in_full(as_resident, resident):
    small = make_estate_bill(resident, amount_kobo=10_000_00, amount_paid_kobo=9_950_00, status="partially_paid",
                             due_date=DUE)
    fund(resident, 1_000_00)
    assert pay(as_resident, small.id, "50").status_code == 302
    run_worker()
    assert db.session.get(Bill, small.id).status == "paid"


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_residents_bill_is_404_and_nothing_is_created(as_resident, resident, other_resident, method):
    theirs = make_estate_bill(other_resident, due_date=DUE)
    fund(resident, 50_000_00)
    if method == "get":
        response = as_resident.client.get(f"/bills/{theirs.id}/pay")
    else:
        response = as_resident.post(f"/bills/{theirs.id}/pay", {"amount": "1000", "submit_key": "x"}, page="/bills/")
    assert response.status_code == 404 and payment_count() == 0


def test_a_double_submitted_form_pays_once(as_resident, resident, bill):
    fund(resident, 50_000_00)
    first = pay(as_resident, bill.id, "20000", key="same")
    second = pay(as_resident, bill.id, "20000", key="same")
    assert first.headers["Location"] == second.headers["Location"] and payment_count() == 1


def test_a_payment_in_flight_counts_against_what_can_still_be_paid(as_resident, resident, bill):
    fund(resident, 50_000_00)
    pay(as_resident, bill.id, "15000", key="first")  # not processed yet
    response = pay(as_resident, bill.id, "10000", key="second")
    assert response.status_code == 422 and "The most you can pay on this bill now is ₦5,000.00." in text(response)
    assert payment_count() == 1


def test_a_paid_or_cancelled_bill_cannot_be_paid(resident, bill):
    fund(resident, 50_000_00)
    bill.status = "cancelled"
    db.session.commit()
    from webapp.services import estate_bills

    with pytest.raises(estate_bills.BillError, match="nothing to pay"):
        estate_bills.pay_from_wallet(resident, bill.id, 1_000_00)
    assert payment_count() == 0


def test_a_payment_through_the_service_keeps_the_ledger_invariants(resident, bill):
    from webapp.services import estate_bills

    fund(resident, 50_000_00)
    payment = estate_bills.pay_from_wallet(resident, bill.id, 7_500_00)
    assert payments.process(payment.id) == "succeeded"
    db.session.rollback()
    assert db.session.get(Bill, bill.id).amount_paid_kobo == 7_500_00
    assert ledger.check_invariants() == []


def test_the_statement_lists_payments_in_with_a_running_balance(auth, estate_admin, resident, bill):
    from webapp.services import estate_bills

    fund(resident, 50_000_00)
    for amount in (15_000_00, 5_000_00):
        payments.process(estate_bills.pay_from_wallet(resident, bill.id, amount).id)
    auth.login(estate_admin.email)
    html = text(auth.client.get("/admin/bills/statement"))
    assert 'id="estate-balance">₦20,000.00' in html
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
    # Newest first: +₦5,000 leaves ₦20,000; +₦15,000 left ₦15,000.
    assert "+₦5,000.00" in rows[0] and "₦20,000.00" in rows[0]
    assert "+₦15,000.00" in rows[1] and "₦15,000.00" in rows[1].split("+₦15,000.00")[1]


def test_the_dashboard_include_lists_only_open_bills(app, resident, bill):
    from flask import render_template_string

    from webapp.services import estate_bills

    paid = make_estate_bill(resident, amount_kobo=1_000_00, amount_paid_kobo=1_000_00, status="paid", due_date=DUE)
    with app.test_request_context():
        html = render_template_string('{% include "estate_bills/_open_bills.html" %}',
                                      open_bills=estate_bills.resident_bills(resident, closed_limit=0))
    assert f"/bills/{bill.id}/pay" in html and f"/bills/{paid.id}/pay" not in html
