"""Automation jobs for `rq cron`: the sweep (every minute) and reminders."""
from __future__ import annotations

from webapp.services import automations
from workers import app_job


@app_job
def run_sweep() -> str:
    return automations.run_sweep().summary()


@app_job
def send_reminders() -> str:
    return f"reminders: {automations.send_reminders()} sent"
