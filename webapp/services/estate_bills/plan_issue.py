"""Issuing the bills of every plan that has a period due, each run safe to repeat or to race.

A period's bills go in with one INSERT ... ON CONFLICT DO NOTHING on the unique (plan, period,
resident) key: a second run, or a second scheduler at the same moment (on PostgreSQL it waits for
the first one's commit, then inserts nothing), adds no bill, and only the bills this run inserted
are told to their residents and counted in its audit row. ``last_issued_period`` only spares later
runs the work; the database key is what makes a bill once.

Dates are the estate's: a period due on the 1st is issued from 00:00 on the 1st in its time zone.
Every period still to issue is issued (after days of downtime too: each is money owed), but never
one before the plan's ``issue_from`` (creation, resume, a changed schedule).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.models import Bill, BillCategory, BillPlan, BillStatus, Estate
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.services import audit, notify
from webapp.services.estate_bills.bills import estate_today
from webapp.services.estate_bills.plans import PlanIssue, pending_issues, plan_recipients

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
E = notify.NotificationEvent


def issue_due_plans(now: datetime | None = None) -> int:
    """Issue every running plan's due periods; how many bills this run added."""
    now = now or utcnow()
    estates = {e.id: e for e in db.session.scalars(select(Estate))}
    plan_ids = db.session.scalars(select(BillPlan.id).where(BillPlan.paused.is_(False)).order_by(BillPlan.id)).all()
    added = 0
    for plan_id in plan_ids:
        plan = db.session.get(BillPlan, plan_id)
        estate = estates[plan.estate_id]
        for issue in pending_issues(plan, estate_today(estate, now)):
            added += _issue(plan, estate, issue)
            plan = db.session.get(BillPlan, plan_id)  # the commit expired it
    return added


def _issue(plan: BillPlan, estate: Estate, issue: PlanIssue) -> int:
    """One period of one plan, in one transaction: the bills, their notices, one audit row."""
    recipients = plan_recipients(plan)
    stamp = utcnow()
    rows = [{"estate_id": plan.estate_id, "user_id": user.id, "bill_type": plan.bill_type,
             "category": BillCategory.CLUSTER_MANAGED.value, "title": plan.title, "amount_kobo": plan.amount_kobo,
             "amount_paid_kobo": 0, "due_date": issue.due_on, "status": BillStatus.PENDING.value, "metadata": {},
             "is_automated": False, "plan_id": plan.id, "plan_period": issue.period, "created_at": stamp,
             "updated_at": stamp} for user in recipients]
    inserted = []
    if rows:
        make_insert = _INSERT[db.session.get_bind().dialect.name]
        table = Bill.__table__
        stmt = (make_insert(table).values(rows)
                .on_conflict_do_nothing(index_elements=["plan_id", "plan_period", "user_id"])
                .returning(table.c.id, table.c.user_id))
        inserted = sorted(db.session.execute(stmt).all())
    if inserted:
        told = notify.recipients(recipients, [E.ESTATE_BILL_ISSUED])
        for bill_id, user_id in inserted:
            notify.notify(user_id, E.ESTATE_BILL_ISSUED, title=f"New estate bill: {plan.title}",
                          body=f"{estate.name} billed you {naira(plan.amount_kobo)} for {plan.title}, "
                               f"due {issue.due_on:%d %b %Y}.",
                          link="/bills/", dedup_key=f"estate_bill:{bill_id}:issued",
                          to=told.get((user_id, E.ESTATE_BILL_ISSUED)))
        audit.record("bill_plan.issue", "bill_plan", plan.id, estate_id=plan.estate_id, actor="system",
                     after={"period": issue.period, "count": len(inserted), "bill_ids": [i for i, _ in inserted],
                            "amount_kobo": plan.amount_kobo, "due_date": issue.due_on})
    db.session.execute(
        update(BillPlan).where(BillPlan.id == plan.id, or_(BillPlan.last_issued_period.is_(None),
                                                         BillPlan.last_issued_period < issue.period))
        .values(last_issued_period=issue.period).execution_options(synchronize_session=False))
    db.session.commit()
    notify.enqueue_pending_emails()
    return len(inserted)
