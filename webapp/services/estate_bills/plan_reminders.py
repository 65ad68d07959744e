"""Reminders of the bills a plan issued: 7 days and 1 day before the due date, and on the plan's
chosen days after it ("3,7,14"), each at most once per bill, through the notify service.

Each reminder's dedup key names the bill and the day (``estate_bill:<id>:reminder:before:7``,
``...:after:14``), so a job run twice, or a day's run repeated, tells nobody twice. A day the job
missed is made up by the next run with the latest reminder due, never by a burst of old ones.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Bill, BillPlan, Estate
from webapp.models.base import utcnow
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.money import naira
from webapp.services import notify
from webapp.services.estate_bills.bills import estate_today

DAYS_BEFORE = (7, 1)
E = notify.NotificationEvent


def _due_reminder(bill: Bill, plan: BillPlan, today: date) -> tuple[str, int] | None:
    """Which reminder the bill is due today: ("before", 7|1), ("after", day) or None."""
    days_left = (bill.due_date - today).days
    if days_left >= 0:
        before = [day for day in DAYS_BEFORE if days_left <= day]
        return ("before", min(before)) if before else None
    after = [day for day in plan.reminder_days if day <= -days_left]
    return ("after", max(after)) if after else None


def _say(bill: Bill, when: str, today: date) -> tuple[E, str, str]:
    outstanding, due = naira(bill.outstanding_kobo), f"{bill.due_date:%d %b %Y}"
    if when == "before":
        days_left = (bill.due_date - today).days
        soon = "today" if days_left == 0 else "tomorrow" if days_left == 1 else f"in {days_left} days"
        return (E.ESTATE_BILL_ISSUED, f"Estate bill due {soon}: {bill.title}",
                f"{outstanding} for {bill.title} is due on {due}. Pay it from your wallet on the Bills page.")
    late = (today - bill.due_date).days
    return (E.ESTATE_BILL_OVERDUE, f"Reminder: {bill.title} is {late} days past due",
            f"{bill.title} was due on {due}; {outstanding} is still to pay. Pay it from your wallet on the Bills page.")


def send_plan_reminders(now: datetime | None = None) -> int:
    """Send every plan bill's reminder due today (estate time); how many were sent."""
    now = now or utcnow()
    if db.session.scalar(select(BillPlan.id).limit(1)) is None:
        return 0
    sent = 0
    for estate in db.session.scalars(select(Estate).order_by(Estate.id)):
        today = estate_today(estate, now)
        rows = db.session.execute(
            select(Bill, BillPlan).join(BillPlan, BillPlan.id == Bill.plan_id)
            .where(Bill.estate_id == estate.id, Bill.status.in_(OPEN_BILL_STATUSES), Bill.due_date.is_not(None),
                   Bill.due_date <= today + timedelta(days=max(DAYS_BEFORE)))
            .order_by(Bill.id)
        ).all()
        for bill, plan in rows:
            due = _due_reminder(bill, plan, today)
            if due is None:
                continue
            when, day = due
            event, title, body = _say(bill, when, today)
            sent += bool(notify.notify(bill.user_id, event, title=title, body=body, link="/bills/",
                                       dedup_key=f"estate_bill:{bill.id}:reminder:{when}:{day}"))
        db.session.commit()
        notify.enqueue_pending_emails()
    return sent
