"""Estate bills over time: overdue from local midnight after the due date, reminders before and
after it, each notification once however often the jobs run (frozen time)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs import use_app
from webapp.models import Bill, Notification
from webapp.services import estate_bills
from workers import bill_jobs
from workers.schedule import PERIODIC_JOBS

from . import factories
from .factories_automations import make_estate_bill

LAGOS = ZoneInfo("Africa/Lagos")
DUE = date(2031, 3, 5)


def at(year, month, day, hour=0, minute=0, zone=LAGOS):
    return time_machine.travel(datetime(year, month, day, hour, minute, tzinfo=zone), tick=False)


@pytest.fixture
def bill(resident):
    return make_estate_bill(resident, amount_kobo=20_000_00, due_date=DUE, title="Security, March")


def status(bill_id: int) -> str:
    db.session.rollback()
    return db.session.get(Bill, bill_id).status


def told(key_suffix: str) -> list[Notification]:
    db.session.rollback()
    return list(db.session.scalars(select(Notification).where(Notification.dedup_key.endswith(key_suffix))))


# --- overdue ---------------------------------------------------------------------------------------

def test_a_bill_is_not_overdue_at_2359_local_on_its_due_date(bill):
    with at(2031, 3, 5, 23, 59):
        assert estate_bills.mark_overdue() == 0
    assert status(bill.id) == "pending"


def test_a_bill_is_overdue_from_0000_local_the_day_after(bill):
    with at(2031, 3, 6, 0, 0):  # still 5 March in UTC
        assert estate_bills.mark_overdue() == 1
    assert status(bill.id) == "overdue"


def test_each_estate_is_judged_in_its_own_time_zone(bill):
    tokyo = factories.make_estate(name="Tokyo Court", timezone="Asia/Tokyo")
    far_bill = make_estate_bill(factories.make_user(estate=tokyo), due_date=DUE)
    with at(2031, 3, 6, 0, 0, zone=ZoneInfo("Asia/Tokyo")):  # 5 March 16:00 in Lagos
        estate_bills.mark_overdue()
    assert (status(far_bill.id), status(bill.id)) == ("overdue", "pending")


def test_only_unpaid_bills_go_overdue(resident):
    part = make_estate_bill(resident, amount_kobo=10_000_00, amount_paid_kobo=1_000_00, status="partially_paid",
                            due_date=DUE)
    paid = make_estate_bill(resident, amount_kobo=10_000_00, amount_paid_kobo=10_000_00, status="paid", due_date=DUE)
    cancelled = make_estate_bill(resident, status="cancelled", due_date=DUE)
    utility = Bill(estate_id=resident.estate_id, user_id=resident.id, bill_type="electricity_utility",
                   category="user_managed", title="NEPA", amount_kobo=5_000_00, due_date=DUE)
    db.session.add(utility)
    db.session.commit()
    with at(2031, 3, 7):
        estate_bills.mark_overdue()
    assert [status(b.id) for b in (part, paid, cancelled, utility)] == ["overdue", "paid", "cancelled", "pending"]


def test_the_overdue_notice_is_sent_once_even_if_the_job_runs_twice(bill):
    with at(2031, 3, 6, 0, 5):
        estate_bills.mark_overdue()
        estate_bills.mark_overdue()
    [notice] = told(f"estate_bill:{bill.id}:overdue")
    assert notice.event == "estate_bill_overdue" and notice.user_id == bill.user_id
    assert "₦20,000.00" in notice.body


def test_a_part_payment_of_an_overdue_bill_leaves_it_overdue_without_a_second_notice(bill):
    with at(2031, 3, 6, 1):
        estate_bills.mark_overdue()
    db.session.rollback()
    db.session.get(Bill, bill.id).apply_payment(5_000_00)  # what a succeeded payment does
    db.session.commit()
    assert status(bill.id) == "overdue"
    with at(2031, 3, 6, 2):
        estate_bills.mark_overdue()
    assert status(bill.id) == "overdue" and len(told(f"estate_bill:{bill.id}:overdue")) == 1


# --- reminders -------------------------------------------------------------------------------------

def test_no_reminder_more_than_n_days_before_the_due_date(bill):
    with at(2031, 3, 1, 23, 59):  # 3 days before is 2 March
        assert estate_bills.send_bill_reminders() == 0


def test_a_reminder_n_days_before_the_due_date_is_sent_once(bill):
    for day in (2, 3, 4):
        with at(2031, 3, day, 8):
            estate_bills.send_bill_reminders()
    [reminder] = told(f"estate_bill:{bill.id}:reminder:before")
    assert "due on 05 Mar 2031" in reminder.body


def test_a_reminder_after_the_due_date_is_sent_once_while_unpaid(bill):
    with at(2031, 3, 6):
        estate_bills.mark_overdue()
    with at(2031, 3, 7, 8):  # only 2 days late
        estate_bills.send_bill_reminders()
    assert told(f"estate_bill:{bill.id}:reminder:after") == []
    for day in (8, 9, 20):
        with at(2031, 3, day, 8):
            estate_bills.send_bill_reminders()
    [reminder] = told(f"estate_bill:{bill.id}:reminder:after")
    assert reminder.event == "estate_bill_overdue"


def test_paid_and_cancelled_bills_get_no_reminders(resident):
    paid = make_estate_bill(resident, amount_kobo=10_000_00, amount_paid_kobo=10_000_00, status="paid", due_date=DUE)
    cancelled = make_estate_bill(resident, status="cancelled", due_date=DUE)
    for when in ((2031, 3, 3, 8), (2031, 3, 9, 8)):
        with at(*when):
            assert estate_bills.send_bill_reminders() == 0
    assert told(f"estate_bill:{paid.id}:reminder:before") == told(f"estate_bill:{cancelled.id}:reminder:after") == []


def test_reminder_days_come_from_the_setting(app, bill):
    app.config["BILL_REMINDER_DAYS_BEFORE"] = 1
    with at(2031, 3, 3, 8):
        assert estate_bills.send_bill_reminders() == 0
    with at(2031, 3, 4, 8):
        assert estate_bills.send_bill_reminders() == 1


# --- the periodic jobs ------------------------------------------------------------------------------

def test_the_jobs_are_scheduled():
    by_name = {job.name: job for job in PERIODIC_JOBS}
    assert by_name["estate-bills-overdue"].func is bill_jobs.mark_overdue
    assert by_name["estate-bill-reminders"].func is bill_jobs.send_bill_reminders


def test_the_overdue_job_runs_the_service(bill):
    use_app(current_app._get_current_object())
    with at(2031, 3, 6, 0, 30):
        assert bill_jobs.mark_overdue() == "estate bills: 1 marked overdue"
    assert status(bill.id) == "overdue"
