"""The periodic email backstop: sends mail whose enqueue after commit was missed, and retries
after SMTP outages."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import notify


@job(PERIODIC, timeout=600)
def deliver_queued_emails() -> str:
    return notify.deliver_queued().summary()
