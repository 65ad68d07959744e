"""Bill plans over time: each period issued once per resident on its issue day (estate time), however
often the job runs or however many run at once, and the bills are ordinary ones that residents'
estate-bill automations pay (frozen time, real RQ workers)."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import current_app
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.jobs import use_app
from webapp.models import AuditEntry, Bill, BillPlan, Notification, Payment
from webapp.services import estate_bills, ledger
from workers import automation_jobs, bill_jobs
from workers.schedule import PERIODIC_JOBS

from . import factories
from .factories_automations import make_automation, make_bill_plan
from .payments.helpers import fund, run_worker

LAGOS = ZoneInfo("Africa/Lagos")
START = date(2031, 3, 1)


def at(year, month, day, hour=0, minute=0, tick=False):
    return time_machine.travel(datetime(year, month, day, hour, minute, tzinfo=LAGOS), tick=tick)


@pytest.fixture
def plan(estate, resident, other_resident):
    return make_bill_plan(estate, START)


def plan_bills(plan_id: int | None = None) -> list[tuple]:
    db.session.rollback()
    query = select(Bill.user_id, Bill.plan_period, Bill.due_date, Bill.amount_kobo, Bill.status).order_by(
        Bill.plan_period, Bill.user_id)
    if plan_id is not None:
        query = query.where(Bill.plan_id == plan_id)
    return [tuple(row) for row in db.session.execute(query)]


def issued_notices() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.event == "estate_bill_issued"))


def test_nothing_is_issued_before_local_midnight_of_the_issue_day(plan):
    with at(2031, 2, 28, 23, 59):  # already 1 March in some zones, not in Lagos
        assert estate_bills.issue_due_plans() == 0
    assert plan_bills() == []


def test_the_issue_day_bills_every_resident_once_due_after_the_plans_days(plan, resident, other_resident):
    with at(2031, 3, 1, 0, 5):
        assert estate_bills.issue_due_plans() == 2
    due = START + timedelta(days=14)
    assert plan_bills(plan.id) == [(resident.id, START, due, 15_000_00, "pending"),
                                   (other_resident.id, START, due, 15_000_00, "pending")]
    db.session.rollback()
    assert db.session.get(BillPlan, plan.id).last_issued_period == START


def test_the_job_run_twice_issues_each_period_once_and_tells_each_resident_once(plan):
    with at(2031, 3, 1, 1):
        assert estate_bills.issue_due_plans() == 2
        assert estate_bills.issue_due_plans() == 0
    with at(2031, 3, 20):
        assert estate_bills.issue_due_plans() == 0
    assert len(plan_bills()) == 2 and issued_notices() == 2
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "bill_plan.issue")).all()
    assert [(a.object_id, a.after["count"], a.actor) for a in audit] == [(plan.id, 2, "system")]


def test_the_database_refuses_a_second_bill_for_the_same_plan_period_and_resident(plan, resident):
    from sqlalchemy.exc import IntegrityError

    with at(2031, 3, 1, 1):
        estate_bills.issue_due_plans()
    db.session.add(Bill(estate_id=plan.estate_id, user_id=resident.id, bill_type="security",
                        category="cluster_managed", title="again", amount_kobo=1_00, plan_id=plan.id,
                        plan_period=START))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_forgetting_the_last_issued_period_still_issues_nothing_twice(plan):
    with at(2031, 3, 1, 1):
        estate_bills.issue_due_plans()
    db.session.get(BillPlan, plan.id).last_issued_period = None  # as if a racing run had not yet recorded it
    db.session.commit()
    with at(2031, 3, 1, 2):
        assert estate_bills.issue_due_plans() == 0
    assert len(plan_bills()) == 2 and issued_notices() == 2


def test_each_month_is_its_own_period_and_missed_days_are_caught_up(plan):
    with at(2031, 3, 1, 1):
        estate_bills.issue_due_plans()
    with at(2031, 5, 3, 9):  # the scheduler was down through 1 April and 1 May
        assert estate_bills.issue_due_plans() == 4
    assert sorted({row[1] for row in plan_bills()}) == [START, date(2031, 4, 1), date(2031, 5, 1)]


def test_a_quarterly_plan_on_the_31st_issues_on_the_last_day_of_short_months(estate, resident):
    plan = make_bill_plan(estate, date(2031, 1, 1), frequency="quarterly", day_of_month=31, due_after_days=0)
    for day in (date(2031, 1, 31), date(2031, 4, 30), date(2031, 7, 31)):
        with at(day.year, day.month, day.day, 0, 30):
            assert estate_bills.issue_due_plans() == 1
    with at(2031, 9, 30, 12):
        assert estate_bills.issue_due_plans() == 0
    assert [row[2] for row in plan_bills(plan.id)] == [date(2031, 1, 31), date(2031, 4, 30), date(2031, 7, 31)]


def test_a_plan_for_chosen_residents_bills_only_them(estate, resident, other_resident):
    plan = make_bill_plan(estate, START, residents=[other_resident])
    with at(2031, 3, 1, 1):
        estate_bills.issue_due_plans()
    assert [row[0] for row in plan_bills(plan.id)] == [other_resident.id]


def test_a_plan_ends_on_its_end_date(estate, resident):
    make_bill_plan(estate, START, ends_on=date(2031, 4, 15))
    with at(2031, 6, 2):
        assert estate_bills.issue_due_plans() == 2  # March and April; May is after the end
    assert [row[1] for row in plan_bills()] == [START, date(2031, 4, 1)]


def test_a_paused_plan_issues_nothing_and_resuming_skips_the_days_it_missed(plan):
    with at(2031, 2, 20):
        estate_bills.set_paused(db.session.get(BillPlan, plan.id), True)
    with at(2031, 3, 2):
        assert estate_bills.issue_due_plans() == 0
        estate_bills.set_paused(db.session.get(BillPlan, plan.id), False)
        assert estate_bills.issue_due_plans() == 0  # 1 March passed while paused
    with at(2031, 4, 1, 0, 1):
        assert estate_bills.issue_due_plans() == 2
    assert {row[1] for row in plan_bills()} == {date(2031, 4, 1)}


def test_a_resident_who_leaves_is_not_billed_again(plan, resident, other_resident):
    with at(2031, 3, 1, 1):
        estate_bills.issue_due_plans()
    db.session.get(type(other_resident), other_resident.id).is_active_flag = False
    db.session.commit()
    with at(2031, 4, 1, 1):
        assert estate_bills.issue_due_plans() == 1
    assert [row[0] for row in plan_bills() if row[1] == date(2031, 4, 1)] == [resident.id]


# --- the periodic job ----------------------------------------------------------------------------------

def test_the_issue_job_is_scheduled_hourly():
    by_name = {job.name: job for job in PERIODIC_JOBS}
    assert by_name["bill-plans-issue"].func is bill_jobs.issue_plan_bills
    assert by_name["bill-plans-issue"].cron == "5 * * * *"


def test_the_issue_job_queued_twice_on_a_real_worker_issues_once(plan):
    use_app(current_app._get_current_object())
    with at(2031, 3, 1, 0, 5, tick=True):
        bill_jobs.issue_plan_bills.enqueue()
        bill_jobs.issue_plan_bills.enqueue()
        run_worker()
    assert len(plan_bills(plan.id)) == 2 and issued_notices() == 2


def test_two_runs_at_once_issue_each_bill_once(app, require_postgres, estate, resident):
    for n in range(8):
        factories.make_user(estate=estate, email=f"neighbour{n}@example.com")
    plan = make_bill_plan(estate, START)
    barrier = threading.Barrier(2)
    counts, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                counts.append(estate_bills.issue_due_plans(datetime(2031, 3, 1, 9, tzinfo=LAGOS)))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(counts) in ([0, 9], [1, 8], [2, 7], [3, 6], [4, 5]) and sum(counts) == 9
    assert len(plan_bills(plan.id)) == 9 and issued_notices() == 9


# --- paid like any estate bill ------------------------------------------------------------------------

def test_an_estate_bill_automation_pays_a_plans_bill_through_the_real_sweep(estate, resident):
    use_app(current_app._get_current_object())
    fund(resident, 50_000_00)
    plan = make_bill_plan(estate, START)
    make_automation(resident, None, first_run=datetime(2031, 3, 1, 9, tzinfo=LAGOS), amount_mode="full_outstanding",
                    amount_kobo=None, bill_type="security")
    with at(2031, 3, 1, 8, 5, tick=True) as traveller:
        bill_jobs.issue_plan_bills.enqueue()
        run_worker()
        [bill] = db.session.scalars(select(Bill).where(Bill.plan_id == plan.id)).all()
        traveller.move_to(datetime(2031, 3, 1, 9, 0, 1, tzinfo=LAGOS))
        automation_jobs.run_sweep.enqueue()
        run_worker()  # the sweep, then the payment it queued
    db.session.rollback()
    payment = db.session.scalar(select(Payment).where(Payment.bill_id == bill.id))
    assert (payment.status, payment.amount_kobo, payment.source) == ("succeeded", 15_000_00, "automation")
    assert db.session.get(Bill, bill.id).status == "paid"
    assert ledger.balance(ledger.estate_account(estate.id).id) == 15_000_00
    assert ledger.check_invariants() == []
