"""Estate bill jobs for `rq cron`: overdue marking (hourly, so every time zone's midnight is
caught within the hour) and reminders (daily)."""
from __future__ import annotations

from webapp.services import estate_bills
from workers import app_job


@app_job
def mark_overdue() -> str:
    return f"estate bills: {estate_bills.mark_overdue()} marked overdue"


@app_job
def send_bill_reminders() -> str:
    return f"estate bills: {estate_bills.send_bill_reminders()} reminders sent"
