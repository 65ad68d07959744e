"""Email delivery jobs: one message by id (enqueued after commit) and the periodic backstop."""
from __future__ import annotations

from webapp.services import notify
from workers import app_job


@app_job
def deliver_email(message_id: int) -> str:
    return notify.deliver(message_id)


@app_job
def deliver_queued_emails() -> str:
    return notify.deliver_queued().summary()
