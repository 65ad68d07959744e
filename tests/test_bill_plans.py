"""Bill plans in the admin area: who may see them, setting one up, refusing bad input without
changing anything, editing, pausing and resuming, and the preview of the next issues."""
from __future__ import annotations

from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEntry, BillPlan

from . import factories
from .factories_automations import make_bill_plan

TODAY = date(2031, 2, 10)


@pytest.fixture(autouse=True)
def frozen_day():
    with time_machine.travel("2031-02-10 09:00 +01:00", tick=False):
        yield


@pytest.fixture
def plan(estate, resident, other_resident):
    return make_bill_plan(estate, date(2031, 3, 1), title="Security levy")


@pytest.fixture
def foreign_plan(other_estate):
    factories.make_user(estate=other_estate, email="tunde@example.com")
    return make_bill_plan(other_estate, date(2031, 3, 1), title="Banana levy")


def text(response) -> str:
    return response.get_data(as_text=True)


def plan_rows() -> list[tuple]:
    db.session.rollback()
    return [tuple(row) for row in db.session.execute(select(BillPlan.__table__).order_by(BillPlan.id))]


def audit_actions() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def plan_form(**fields) -> dict:
    return {"title": "Security levy", "bill_type": "security", "amount": "15,000", "frequency": "monthly",
            "day_of_month": "1", "starts_on": "2031-03-01", "ends_on": "", "due_after_days": "14",
            "grace_days": "3", "reminder_days_after": "3, 7,14", "recipients": "all", **fields}


# --- who may see what ------------------------------------------------------------------------------

GETS = ["/admin/bills/plans/", "/admin/bills/plans/new", "/admin/bills/plans/{id}", "/admin/bills/plans/{id}/edit"]
POSTS = ["/admin/bills/plans/new", "/admin/bills/plans/{id}/edit", "/admin/bills/plans/{id}/pause",
         "/admin/bills/plans/{id}/resume"]


@pytest.mark.parametrize("path", GETS)
def test_a_resident_gets_404_on_every_plan_page(as_resident, plan, path):
    assert as_resident.client.get(path.format(id=plan.id)).status_code == 404


@pytest.mark.parametrize("path", POSTS)
def test_a_resident_gets_404_on_every_plan_action_and_nothing_changes(as_resident, plan, path):
    before = plan_rows()
    assert as_resident.post(path.format(id=plan.id), plan_form(), page="/bills/").status_code == 404
    assert plan_rows() == before and audit_actions() == []


@pytest.mark.parametrize("path", GETS[2:] + ["/admin/bills/plans/?estate={estate}",
                                             "/admin/bills/plans/new?estate={estate}"])
def test_another_estates_plans_are_404(as_admin, foreign_plan, path):
    assert as_admin.client.get(path.format(id=foreign_plan.id, estate=foreign_plan.estate_id)).status_code == 404


@pytest.mark.parametrize("path", POSTS[1:] + ["/admin/bills/plans/new?estate={estate}"])
def test_another_estates_plans_cannot_be_changed(as_admin, foreign_plan, path):
    before = plan_rows()
    url = path.format(id=foreign_plan.id, estate=foreign_plan.estate_id)
    assert as_admin.post(url, plan_form(), page="/admin/bills/plans/").status_code == 404
    assert plan_rows() == before and audit_actions() == []


def test_the_list_shows_only_the_admins_own_estates_plans(as_admin, plan, foreign_plan):
    html = text(as_admin.client.get("/admin/bills/plans/"))
    assert f'id="plan-{plan.id}"' in html and f'id="plan-{foreign_plan.id}"' not in html
    assert "01 Mar 2031" in html and "₦15,000.00" in html


# --- setting one up --------------------------------------------------------------------------------

def test_an_admin_sets_up_a_plan_with_one_audit_row(as_admin, estate, resident):
    response = as_admin.post("/admin/bills/plans/new", plan_form())
    assert response.status_code == 302
    [plan] = db.session.scalars(select(BillPlan)).all()
    assert (plan.estate_id, plan.title, plan.amount_kobo, plan.frequency, plan.day_of_month, plan.starts_on,
            plan.issue_from, plan.grace_days, plan.reminder_days_after, plan.all_residents, plan.paused) == (
        estate.id, "Security levy", 15_000_00, "monthly", 1, date(2031, 3, 1), date(2031, 3, 1), 3, "3,7,14",
        True, False)
    assert response.headers["Location"].endswith(f"/admin/bills/plans/{plan.id}")
    assert audit_actions() == ["bill_plan.create"]


def test_a_plan_for_chosen_residents_keeps_them(as_admin, resident, other_resident):
    as_admin.post("/admin/bills/plans/new", plan_form(recipients="chosen", residents=[str(other_resident.id)]))
    [plan] = db.session.scalars(select(BillPlan)).all()
    assert plan.all_residents is False and [u.id for u in plan.residents] == [other_resident.id]


@pytest.mark.parametrize(("fields", "message", "kept"), [
    ({"amount": "abc"}, "Enter the amount in numbers only", 'value="abc"'),
    ({"amount": "0"}, "greater than ₦0", 'value="0"'),
    ({"title": ""}, "Give the plan a title.", None),
    ({"bill_type": "rent"}, "Not a valid choice", None),
    ({"frequency": "weekly"}, "Not a valid choice", None),
    ({"day_of_month": "40"}, "Choose a day of the month from 1 to 31.", 'value="40"'),
    ({"day_of_month": "١"}, "Choose a day of the month from 1 to 31.", None),
    ({"starts_on": ""}, "Choose the day the plan starts.", None),
    ({"starts_on": "2031-02-09"}, "Choose a start date from today onwards.", 'value="2031-02-09"'),
    ({"starts_on": "31/03/2031"}, "Enter a date like 2025-01-31.", 'value="31/03/2031"'),
    ({"ends_on": "2031-02-28"}, "The end date is before the start date.", 'value="2031-02-28"'),
    ({"due_after_days": "999"}, "Choose from 0 to 90 days.", 'value="999"'),
    ({"grace_days": "-1"}, "Choose from 0 to 90 days.", 'value="-1"'),
    ({"reminder_days_after": "3,x"}, "List up to 6 days from 1 to 90", 'value="3,x"'),
    ({"reminder_days_after": "0"}, "List up to 6 days from 1 to 90", None),
    ({"recipients": "chosen"}, "Choose one or more residents of this estate.", None),
    ({"recipients": "chosen", "residents": ["99999"]}, "Choose one or more residents of this estate.", None),
    ({"recipients": "chosen", "residents": ["abc"]}, "Invalid choice", None),
], ids=lambda value: str(value)[:30])
def test_bad_input_is_told_on_the_page_keeps_what_was_typed_and_changes_nothing(as_admin, resident, fields, message,
                                                                                  kept):
    response = as_admin.post("/admin/bills/plans/new", plan_form(**fields))
    html = text(response)
    assert response.status_code == 422 and message in html
    assert kept is None or kept in html
    assert 'value="Security levy"' in html or fields.get("title") == ""
    assert plan_rows() == [] and audit_actions() == []


def test_a_resident_of_another_estate_cannot_be_chosen(as_admin, resident, other_estate):
    stranger = factories.make_user(estate=other_estate, email="stranger@example.com")
    response = as_admin.post("/admin/bills/plans/new", plan_form(recipients="chosen", residents=[str(stranger.id)]))
    assert response.status_code == 422 and "Choose one or more residents of this estate." in text(response)
    assert plan_rows() == []


def test_a_platform_admin_picks_the_estate_first(auth, estate, other_estate):
    boss = factories.make_user(email="platform@example.com", role="platform_admin")
    auth.login(boss.email)
    assert "Choose an estate" in text(auth.client.get("/admin/bills/plans/new"))
    url = f"/admin/bills/plans/new?estate={other_estate.id}"
    assert auth.post(url, plan_form(), page=url).status_code == 302
    assert db.session.scalar(select(BillPlan.estate_id)) == other_estate.id


# --- editing, pausing --------------------------------------------------------------------------------

def test_the_edit_page_shows_the_plans_values(as_admin, plan):
    html = text(as_admin.client.get(f"/admin/bills/plans/{plan.id}/edit"))
    assert 'value="Security levy"' in html and 'value="15000"' in html and 'value="2031-03-01"' in html
    assert 'value="3,7"' in html


def test_editing_saves_and_audits_before_and_after(as_admin, plan):
    response = as_admin.post(f"/admin/bills/plans/{plan.id}/edit", plan_form(amount="20,000", title="Security"))
    assert response.status_code == 302
    db.session.rollback()
    edited = db.session.get(BillPlan, plan.id)
    assert (edited.title, edited.amount_kobo, edited.issue_from) == ("Security", 20_000_00, date(2031, 3, 1))
    [row] = db.session.scalars(select(AuditEntry)).all()
    assert (row.action, row.before["amount_kobo"], row.after["amount_kobo"]) == ("bill_plan.update", 15_000_00,
                                                                                 20_000_00)


def test_a_changed_schedule_issues_nothing_for_a_day_already_gone(as_admin, estate, resident):
    plan = make_bill_plan(estate, date(2031, 1, 1), day_of_month=20)
    form = plan_form(starts_on="2031-01-01", day_of_month="5")
    assert as_admin.post(f"/admin/bills/plans/{plan.id}/edit", form).status_code == 302
    db.session.rollback()
    assert db.session.get(BillPlan, plan.id).issue_from == TODAY  # 5 February is gone: March is next
    assert "05 Mar 2031" in text(as_admin.client.get(f"/admin/bills/plans/{plan.id}"))


def test_a_bad_edit_changes_nothing(as_admin, plan):
    before = plan_rows()
    response = as_admin.post(f"/admin/bills/plans/{plan.id}/edit", plan_form(amount="lots"))
    assert response.status_code == 422 and 'value="lots"' in text(response)
    assert plan_rows() == before and audit_actions() == []


def test_pause_and_resume_are_audited_and_a_second_pause_is_told(as_admin, plan):
    page = f"/admin/bills/plans/{plan.id}"
    assert as_admin.post(f"{page}/pause", page=page).status_code == 302
    assert "Paused: nothing is issued" in text(as_admin.client.get(page))
    as_admin.post(f"{page}/pause", page=page)
    assert "This plan is already paused." in text(as_admin.client.get(page))
    as_admin.post(f"{page}/resume", page=page)
    db.session.rollback()
    assert db.session.get(BillPlan, plan.id).paused is False
    assert audit_actions() == ["bill_plan.pause", "bill_plan.resume"]


def test_the_plan_page_previews_the_next_issues(as_admin, plan):
    html = text(as_admin.client.get(f"/admin/bills/plans/{plan.id}"))
    assert html.count("<tr>") >= 6
    for issued, due in (("01 Mar 2031", "15 Mar 2031"), ("01 Apr 2031", "15 Apr 2031"), ("01 Aug 2031", "15 Aug 2031")):
        assert issued in html and due in html
    assert "₦30,000.00" in html  # 2 residents × ₦15,000.00
    assert "01 Sep 2031" not in html  # six issues shown


def test_the_preview_stops_at_the_end_date(as_admin, estate, resident):
    plan = make_bill_plan(estate, date(2031, 3, 1), frequency="quarterly", ends_on=date(2031, 7, 1))
    html = text(as_admin.client.get(f"/admin/bills/plans/{plan.id}"))
    assert "01 Mar 2031" in html and "01 Jun 2031" in html and "01 Sep 2031" not in html
