"""Sending outbox emails in the background: one email (job id ``email-<message id>``), or the
emails one commit wrote, in one job (``emails-<first message id>``); and the SMS one commit wrote,
in one job (``sms-<first message id>``). Both share the emails queue: notification delivery."""
from __future__ import annotations

import logging
from collections import Counter

from redis.exceptions import RedisError

from webapp.extensions import db
from webapp.jobs import EMAILS, job
from webapp.services.notify import outbox, sms_outbox
from webapp.services.notify.channels import PENDING_EMAILS_KEY
from webapp.services.notify.sms import PENDING_SMS_KEY

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


@job(EMAILS, timeout=300)
def deliver_sms(message_ids: list[int]) -> str:
    """Those of these SMS that are due (not held for quiet hours), each at most once."""
    return sms_outbox.relay(message_ids).summary()


def enqueue_pending_sms() -> int:
    ids = db.session.info.pop(PENDING_SMS_KEY, [])
    if not ids:
        return 0
    try:
        deliver_sms.enqueue(ids, job_id=f"sms-{ids[0]}")
    except RedisError as exc:
        log.warning("could not enqueue SMS %s (%s); the periodic relay will send them", ids, type(exc).__name__)
        return 0
    return len(ids)


def enqueue_pending_emails() -> int:
    """Enqueue delivery of the outbox rows (emails and SMS) this session wrote. Call it after
    ``db.session.commit()``; the number of emails enqueued.

    Redis being down is logged, not raised: the caller's state change is already committed and
    the periodic ``deliver-emails`` and ``relay-sms`` jobs send anything still queued.
    """
    enqueue_pending_sms()
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
