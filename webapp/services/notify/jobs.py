"""Sending one outbox email in the background (job id ``email-<message id>``)."""
from __future__ import annotations

import logging

from redis.exceptions import RedisError

from webapp.extensions import db
from webapp.jobs import EMAILS, job
from webapp.services.notify import outbox
from webapp.services.notify.channels import PENDING_EMAILS_KEY

log = logging.getLogger(__name__)


@job(EMAILS, timeout=120)
def deliver_email(message_id: int) -> str:
    return outbox.deliver(message_id)


def enqueue_pending_emails() -> int:
    """Enqueue delivery of the outbox rows this session wrote. Call it after ``db.session.commit()``.

    Redis being down is logged, not raised: the caller's state change is already committed and
    the periodic ``deliver-emails`` job sends anything still queued.
    """
    ids = db.session.info.pop(PENDING_EMAILS_KEY, [])
    enqueued = 0
    for message_id in ids:
        try:
            deliver_email.enqueue(message_id, job_id=f"email-{message_id}")
        except RedisError as exc:
            log.warning("could not enqueue email %s (%s); the periodic sender will deliver it",
                        message_id, type(exc).__name__)
            continue
        enqueued += 1
    return enqueued
