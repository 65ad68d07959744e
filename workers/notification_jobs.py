"""The periodic email and SMS backstops: send what an enqueue after commit missed, retry after
outages, and release SMS held for quiet hours once they end."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import notify
from webapp.services.notify import sms_outbox


@job(PERIODIC, timeout=600)
def deliver_queued_emails() -> str:
    return notify.deliver_queued().summary()


@job(PERIODIC, timeout=600)
def relay_queued_sms() -> str:
    return sms_outbox.relay().summary()
