"""Automation jobs for `rq cron`: the sweep (every minute) and reminders."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import automations


@job(PERIODIC, timeout=600)
def run_sweep() -> str:
    return automations.run_sweep().summary()


@job(PERIODIC, timeout=120)
def send_reminders() -> str:
    return f"reminders: {automations.send_reminders()} sent"


@job(PERIODIC, timeout=600)
def send_monthly_summaries() -> str:
    return f"monthly summaries: {automations.send_monthly_summaries()} sent"
