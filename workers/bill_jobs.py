"""Estate bill jobs for `rq cron`: overdue marking and bill plans' issues (hourly, so every time
zone's midnight is caught within the hour) and reminders (daily)."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import estate_bills


@job(PERIODIC, timeout=300)
def mark_overdue() -> str:
    return f"estate bills: {estate_bills.mark_overdue()} marked overdue"


@job(PERIODIC, timeout=300)
def send_bill_reminders() -> str:
    return f"estate bills: {estate_bills.send_bill_reminders()} reminders sent"


@job(PERIODIC, timeout=600)
def issue_plan_bills() -> str:
    return f"bill plans: {estate_bills.issue_due_plans()} bills issued"


@job(PERIODIC, timeout=300)
def send_plan_bill_reminders() -> str:
    return f"bill plans: {estate_bills.send_plan_reminders()} reminders sent"
