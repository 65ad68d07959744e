"""A plan's bills over time: overdue only after the plan's grace period, and reminders 7 days and 1
day before the due date and on the plan's days after it, each once per bill however often the job
runs (frozen time)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs import use_app
from webapp.models import Bill, EmailMessage, Notification
from webapp.services import estate_bills
from workers import bill_jobs
from workers.schedule import PERIODIC_JOBS

from .factories_automations import make_bill_plan, make_estate_bill
from .payments.helpers import run_worker

LAGOS = ZoneInfo("Africa/Lagos")
START = date(2031, 3, 1)
DUE = START + timedelta(days=14)  # 15 March


def on(day: date, hour: int = 8, tick: bool = False):
    return time_machine.travel(datetime(day.year, day.month, day.day, hour, tzinfo=LAGOS), tick=tick)


@pytest.fixture
def plan(estate, resident):
    return make_bill_plan(estate, START, grace_days=3, reminder_days_after="3,7,14")


@pytest.fixture
def bill(plan):
    with on(START, 1):
        estate_bills.issue_due_plans()
    db.session.rollback()
    return db.session.scalars(select(Bill).where(Bill.plan_id == plan.id)).one()


def status(bill_id: int) -> str:
    db.session.rollback()
    return db.session.get(Bill, bill_id).status


def reminder_keys(bill_id: int) -> list[str]:
    db.session.rollback()
    prefix = f"estate_bill:{bill_id}:reminder:"
    return sorted(key.removeprefix(prefix) for key in db.session.scalars(
        select(Notification.dedup_key).where(Notification.dedup_key.startswith(prefix))))


# --- the grace period -------------------------------------------------------------------------------

def test_a_plan_bill_is_not_overdue_during_its_grace_period(bill):
    with on(DUE + timedelta(days=3), 23):  # the third day of grace
        assert estate_bills.mark_overdue() == 0
    assert status(bill.id) == "pending"


def test_a_plan_bill_is_overdue_once_its_grace_period_is_over(bill):
    with on(DUE + timedelta(days=4), 0):
        assert estate_bills.mark_overdue() == 1
    assert status(bill.id) == "overdue"


def test_a_plain_bill_next_to_a_graced_plan_is_overdue_the_day_after_its_due_date(bill, resident):
    plain = make_estate_bill(resident, due_date=DUE)
    with on(DUE + timedelta(days=1), 0):
        assert estate_bills.mark_overdue() == 1
    assert (status(plain.id), status(bill.id)) == ("overdue", "pending")


# --- reminders --------------------------------------------------------------------------------------

def test_each_reminder_goes_once_on_its_day_even_when_the_job_runs_twice_a_day(bill):
    sent_on = {}
    day = START
    while day <= DUE + timedelta(days=20):
        with on(day):
            before = set(reminder_keys(bill.id))
            estate_bills.send_plan_reminders()
            estate_bills.send_plan_reminders()
            estate_bills.mark_overdue()
        for key in set(reminder_keys(bill.id)) - before:
            sent_on[key] = day
        day += timedelta(days=1)
    assert sent_on == {"before:7": DUE - timedelta(days=7), "before:1": DUE - timedelta(days=1),
                       "after:3": DUE + timedelta(days=3), "after:7": DUE + timedelta(days=7),
                       "after:14": DUE + timedelta(days=14)}
    db.session.rollback()
    emails = db.session.scalars(select(EmailMessage.dedup_key).where(EmailMessage.dedup_key.contains(":reminder:")))
    assert len(list(emails)) == 5  # in-app and email, as the resident's preferences have by default


def test_a_missed_day_sends_the_latest_reminder_due_not_a_burst(bill):
    with on(DUE + timedelta(days=8)):  # nothing ran since the issue day
        assert estate_bills.send_plan_reminders() == 1
    assert reminder_keys(bill.id) == ["after:7"]


def test_the_reminder_says_how_soon_and_how_much(bill):
    with on(DUE - timedelta(days=1)):
        estate_bills.send_plan_reminders()
    [notice] = db.session.scalars(select(Notification).where(Notification.dedup_key.endswith(":before:1"))).all()
    assert notice.title.startswith("Estate bill due tomorrow") and "₦15,000.00" in notice.body


def test_paid_bills_get_no_more_reminders(bill):
    with on(DUE - timedelta(days=7)):
        estate_bills.send_plan_reminders()
    db.session.get(Bill, bill.id).apply_payment(15_000_00)
    db.session.commit()
    for offset in (-1, 3, 7):
        with on(DUE + timedelta(days=offset)):
            assert estate_bills.send_plan_reminders() == 0
    assert reminder_keys(bill.id) == ["before:7"]


def test_a_plan_without_days_after_sends_only_the_reminders_before(estate, resident):
    plan = make_bill_plan(estate, START, reminder_days_after="")
    with on(START, 1):
        estate_bills.issue_due_plans()
    for offset in (-7, -1, 3, 30):
        with on(DUE + timedelta(days=offset)):
            estate_bills.send_plan_reminders()
    bill_id = db.session.scalar(select(Bill.id).where(Bill.plan_id == plan.id))
    assert reminder_keys(bill_id) == ["before:1", "before:7"]


def test_plan_bills_are_left_out_of_the_general_reminders(bill):
    for day in (DUE - timedelta(days=3), DUE + timedelta(days=3)):
        with on(day):
            assert estate_bills.send_bill_reminders() == 0


def test_the_reminder_job_runs_daily_on_a_real_worker(bill):
    assert {job.name: job for job in PERIODIC_JOBS}["bill-plan-reminders"].cron == "0 7 * * *"
    use_app(current_app._get_current_object())
    with on(DUE - timedelta(days=7), tick=True):
        bill_jobs.send_plan_bill_reminders.enqueue()
        bill_jobs.send_plan_bill_reminders.enqueue()
        run_worker()
    assert reminder_keys(bill.id) == ["before:7"]
