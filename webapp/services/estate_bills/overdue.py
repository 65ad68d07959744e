"""Estate bills over time: overdue marking and reminders, each run safe to repeat.

Dates are the estate's: a bill due on the 5th is overdue from 00:00 on the 6th in the estate's
time zone, or that many days later when the bill's plan gives a grace period. Bills issued by a
plan are reminded on the plan's days (``plan_reminders``), not on ``BILL_REMINDER_DAYS_BEFORE``.
Each notification has a dedup key naming the bill and the fact, so a job that runs twice (or after
a partial payment moved a bill back out of ``overdue``) never tells anyone twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from webapp.extensions import db
from webapp.models import Bill, BillCategory, BillPlan, BillStatus, Estate
from webapp.models.base import utcnow
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.money import naira
from webapp.services import notify
from webapp.services.estate_bills.bills import estate_today

E = notify.NotificationEvent
NOT_YET_OVERDUE = (BillStatus.PENDING.value, BillStatus.PARTIALLY_PAID.value)


def _estates() -> list[Estate]:
    return list(db.session.scalars(select(Estate).order_by(Estate.id)))


def _estate_bills(estate_id: int):
    return select(Bill).where(Bill.estate_id == estate_id, Bill.category == BillCategory.CLUSTER_MANAGED.value)


def _past_grace(estate_id: int, today):
    """Bills past their due date and their plan's grace period (none without a plan)."""
    by_grace: dict[int, list[int]] = {}
    for grace, plan_id in db.session.execute(select(BillPlan.grace_days, BillPlan.id).where(
            BillPlan.estate_id == estate_id, BillPlan.grace_days > 0)):
        by_grace.setdefault(grace, []).append(plan_id)
    if not by_grace:
        return Bill.due_date < today
    graced = [plan_id for plan_ids in by_grace.values() for plan_id in plan_ids]
    return or_(and_(or_(Bill.plan_id.is_(None), Bill.plan_id.not_in(graced)), Bill.due_date < today),
               *(and_(Bill.plan_id.in_(plan_ids), Bill.due_date < today - timedelta(days=grace))
                 for grace, plan_ids in sorted(by_grace.items())))


def mark_overdue(now: datetime | None = None) -> int:
    """Set unpaid bills past their due date (estate time) and their plan's grace period to ``overdue``
    and tell each resident once.

    One conditional UPDATE per estate: a bill a payment settles at the same moment is either
    already ``paid`` (and not matched) or is marked first and then settled by the payment.
    """
    now = now or utcnow()
    marked = 0
    for estate in _estates():
        today = estate_today(estate, now)
        ids = db.session.scalars(
            update(Bill)
            .where(Bill.estate_id == estate.id, Bill.category == BillCategory.CLUSTER_MANAGED.value,
                   Bill.status.in_(NOT_YET_OVERDUE), _past_grace(estate.id, today))
            .values(status=BillStatus.OVERDUE.value)
            .returning(Bill.id)
            .execution_options(synchronize_session=False)
        ).all()
        bills = db.session.scalars(select(Bill).where(Bill.id.in_(ids)).order_by(Bill.id)).all() if ids else []
        for bill in bills:
            notify.notify(bill.user_id, E.ESTATE_BILL_OVERDUE, title=f"Estate bill overdue: {bill.title}",
                          body=f"{bill.title} was due on {bill.due_date:%d %b %Y}; {naira(bill.outstanding_kobo)} "
                               "is still to pay. Pay it from your wallet on the Bills page.",
                          link="/bills/", dedup_key=f"estate_bill:{bill.id}:overdue")
        db.session.commit()
        notify.enqueue_pending_emails()
        marked += len(ids)
    return marked


def send_bill_reminders(now: datetime | None = None) -> int:
    """Remind residents of unpaid bills BILL_REMINDER_DAYS_BEFORE days before the due date, and once
    more that many days after it (0 turns reminders off). Returns how many reminders were sent.
    Bills of a plan are left to ``send_plan_reminders``."""
    days = int(current_app.config.get("BILL_REMINDER_DAYS_BEFORE", 3))
    if days <= 0:
        return 0
    now = now or utcnow()
    sent = 0
    for estate in _estates():
        today = estate_today(estate, now)
        due_soon = db.session.scalars(_estate_bills(estate.id).where(
            Bill.plan_id.is_(None), Bill.status.in_(NOT_YET_OVERDUE), Bill.due_date >= today,
            Bill.due_date <= today + timedelta(days=days),
        ).order_by(Bill.id)).all()
        for bill in due_soon:
            sent += bool(notify.notify(
                bill.user_id, E.ESTATE_BILL_ISSUED, title=f"Estate bill due soon: {bill.title}",
                body=f"{naira(bill.outstanding_kobo)} for {bill.title} is due on {bill.due_date:%d %b %Y}.",
                link="/bills/", dedup_key=f"estate_bill:{bill.id}:reminder:before"))
        still_unpaid = db.session.scalars(_estate_bills(estate.id).where(
            Bill.plan_id.is_(None), Bill.status.in_(OPEN_BILL_STATUSES),
            Bill.due_date <= today - timedelta(days=days),
        ).order_by(Bill.id)).all()
        for bill in still_unpaid:
            sent += bool(notify.notify(
                bill.user_id, E.ESTATE_BILL_OVERDUE, title=f"Reminder: {bill.title} is overdue",
                body=f"{bill.title} was due on {bill.due_date:%d %b %Y}; {naira(bill.outstanding_kobo)} "
                     "is still to pay.",
                link="/bills/", dedup_key=f"estate_bill:{bill.id}:reminder:after"))
        db.session.commit()
        notify.enqueue_pending_emails()
    return sent
