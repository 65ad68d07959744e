"""Sending outbox emails in the background: one email (job id ``email-<message id>``), or the
emails one commit wrote, in one job (``emails-<first message id>``)."""
from __future__ import annotations

import logging
from collections import Counter

from redis.exceptions import RedisError

from webapp.extensions import db
from webapp.jobs import EMAILS, job
from webapp.services.notify import outbox
from webapp.services.notify.channels import PENDING_EMAILS_KEY

log = logging.getLogger(__name__)


@job(EMAILS, timeout=120)
def deliver_email(message_id: int) -> str:
    return outbox.deliver(message_id)


@job(EMAILS, timeout=600)
def deliver_emails(message_ids: list[int]) -> str:
    """Each email at most once, as ``deliver_email`` (``outbox.deliver_many``); one that could not
    be sent now (put back in the queue with its backoff) does not stop the others, and fails the
    job at the end."""
    results = Counter(outbox.deliver_many(message_ids).values())
    return ", ".join(f"{n} {result}" for result, n in sorted(results.items()))


def enqueue_pending_emails() -> int:
    """Enqueue delivery of the outbox rows this session wrote. Call it after ``db.session.commit()``.

    Redis being down is logged, not raised: the caller's state change is already committed and
    the periodic ``deliver-emails`` job sends anything still queued.
    """
    ids = db.session.info.pop(PENDING_EMAILS_KEY, [])
    if not ids:
        return 0
    try:
        if len(ids) == 1:
            deliver_email.enqueue(ids[0], job_id=f"email-{ids[0]}")
        else:
            deliver_emails.enqueue(ids, job_id=f"emails-{ids[0]}")
    except RedisError as exc:
        log.warning("could not enqueue emails %s (%s); the periodic sender will deliver them",
                    ids, type(exc).__name__)
        return 0
    return len(ids)
