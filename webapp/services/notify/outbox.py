"""Deliver the email outbox after commit: claim a row, send it once, record what happened.

A row moves queued -> sending (claimed by exactly one worker with ``UPDATE ... WHERE
status='queued'``) -> sent, or back to queued with a backoff after a temporary failure, or to
failed (refused for good, out of attempts, or a worker died mid-send). A row left in ``sending``
is never retried automatically: the server may already have accepted it, and a notification
that arrives twice is the one thing dedup keys promise never to do.
"""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.models import EmailMessage, EmailStatus, Role, User
from webapp.models.base import utcnow
from webapp.services import policy
from webapp.services.notify import smtp

log = logging.getLogger(__name__)

BATCH = 200


class EmailDeliveryError(RuntimeError):
    """The server did not take the message this time; it stays queued for a later attempt."""


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (f"sent {len(self.sent)}, failed {len(self.failed)}, retry later {len(self.retry)}, "
                f"abandoned mid-send {len(self.abandoned)}")


def _claim(message_id: int) -> bool:
    now = utcnow()
    result = db.session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message_id, EmailMessage.status == EmailStatus.QUEUED.value,
               or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now))
        .values(status=EmailStatus.SENDING.value, claimed_at=now, attempts=EmailMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _keep_in_outbox(message_ids: list[int]) -> set[int]:
    """queued → sent (transport ``outbox``) in one conditional UPDATE for all of them; the ids
    that were ours to send now."""
    now = utcnow()
    kept = db.session.scalars(
        update(EmailMessage)
        .where(EmailMessage.id.in_(message_ids), EmailMessage.status == EmailStatus.QUEUED.value,
               or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now))
        .values(status=EmailStatus.SENT.value, transport="outbox", claimed_at=now, sent_at=now,
                attempts=EmailMessage.attempts + 1, last_error=None, next_attempt_at=None)
        .returning(EmailMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return set(kept)


def deliver_many(message_ids: list[int]) -> dict[int, str]:
    """``deliver`` for each, message id -> its outcome. Without ``MAIL_SERVER`` nothing leaves the
    machine, so the whole batch is claimed and kept in the outbox by one statement. With SMTP each
    message is claimed just before its own send: a worker killed mid-batch strands one message in
    ``sending``, not the batch (stranded ones are never retried, so none can arrive twice). A
    temporary failure requeues that message and goes on; ``EmailDeliveryError`` is raised at the
    end, after the others are delivered."""
    if not current_app.config["MAIL_SERVER"]:
        kept = _keep_in_outbox(message_ids) if message_ids else set()
        log.info("%s emails kept in the development outbox", len(kept))
        return {message_id: "sent" if message_id in kept else "skipped" for message_id in message_ids}
    outcomes, errors = {}, []
    for message_id in message_ids:
        try:
            outcomes[message_id] = deliver(message_id)
        except EmailDeliveryError as exc:
            outcomes[message_id] = "retry later"
            errors.append(exc)
    if errors:
        raise EmailDeliveryError(f"{len(errors)} of {len(message_ids)} emails to retry later; first: {errors[0]}")
    return outcomes


def deliver(message_id: int) -> str:
    """Send one outbox row at most once; "sent", "failed", or "skipped" (not ours to send now).

    With ``MAIL_SERVER`` empty (development) the row is marked sent to the outbox page instead.
    A temporary SMTP failure puts the row back in the queue with a backoff and raises
    ``EmailDeliveryError`` so the job shows as failed.
    """
    config = current_app.config
    if not config["MAIL_SERVER"]:
        # Nothing leaves the machine, so there is no send to guard with a claim: one write.
        if not _keep_in_outbox([message_id]):
            return "skipped"
        log.info("email %s kept in the development outbox", message_id)
        return "sent"
    if not _claim(message_id):
        return "skipped"
    message = db.session.get(EmailMessage, message_id)
    # Keep the loaded copy and end the read: each outcome below is then a transaction that starts
    # with its write (SQLite fails a read-then-write at once if another process committed between).
    db.session.expunge(message)
    db.session.rollback()
    try:
        smtp.send(message, config)
    except smtp.PermanentEmailError as exc:
        _mark_failed(message, str(exc))
        log.warning("email %s for user %s refused for good: %s", message.id, message.user_id, exc)
        return "failed"
    except (smtplib.SMTPException, OSError) as exc:
        reason = smtp.describe(exc)
        _requeue(message, reason)
        raise EmailDeliveryError(f"email {message.id} not sent ({reason}); status {message.status}") from exc
    _mark_sent(message, "smtp")
    log.info("email %s for user %s sent by SMTP", message.id, message.user_id)
    return "sent"


def _write(message: EmailMessage, **values) -> None:
    for name, value in values.items():
        setattr(message, name, value)
    db.session.execute(update(EmailMessage).where(EmailMessage.id == message.id).values(**values))
    db.session.commit()


def _mark_sent(message: EmailMessage, transport: str) -> None:
    _write(message, status=EmailStatus.SENT.value, transport=transport, sent_at=utcnow(), last_error=None,
           next_attempt_at=None)


def _mark_failed(message: EmailMessage, reason: str) -> None:
    _write(message, status=EmailStatus.FAILED.value, last_error=reason[:500], next_attempt_at=None)


def _requeue(message: EmailMessage, reason: str) -> None:
    if message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        _mark_failed(message, f"gave up after {message.attempts} attempts; last: {reason}")
        return
    _write(message, status=EmailStatus.QUEUED.value, last_error=reason[:500],
           next_attempt_at=utcnow() + policy.email_retry_delay(message.attempts))


def _abandon_stale_sending(report: DeliveryReport) -> None:
    cutoff = utcnow() - policy.EMAIL_STALE_SENDING_AFTER
    stale = db.session.scalars(select(EmailMessage).where(
        EmailMessage.status == EmailStatus.SENDING.value, EmailMessage.claimed_at < cutoff).limit(BATCH)).all()
    for message in stale:
        _mark_failed(message, "the sender stopped mid-send; not retried so it cannot arrive twice")
        report.abandoned.append(message.id)


def deliver_queued() -> DeliveryReport:
    """Send every queued message that is due (the periodic backstop for missed enqueues and retries).

    Stops at the first temporary failure: the server is not taking mail, and the rest would only
    wait for the same timeout. Raises ``EmailDeliveryError`` then, after recording the report.
    """
    report = DeliveryReport()
    _abandon_stale_sending(report)
    now = utcnow()
    ids = db.session.scalars(
        select(EmailMessage.id)
        .where(EmailMessage.status == EmailStatus.QUEUED.value,
               or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now))
        .order_by(EmailMessage.id).limit(BATCH)
    ).all()
    db.session.rollback()  # end the read; each delivery runs its own short transactions
    if not current_app.config["MAIL_SERVER"]:  # nothing leaves the machine: the batch in one statement
        report.sent += [message_id for message_id, outcome in deliver_many(list(ids)).items() if outcome == "sent"]
        return report
    for message_id in ids:
        try:
            outcome = deliver(message_id)
        except EmailDeliveryError as exc:
            report.retry.append(message_id)
            raise EmailDeliveryError(f"{report.summary()}; stopped: {exc}") from exc
        if outcome == "sent":
            report.sent.append(message_id)
        elif outcome == "failed":
            report.failed.append(message_id)
    return report


def outbox_page(viewer: User, page: int = 1, per_page: int = 20):
    """A page of the messages a person may see on the development outbox page, newest first.

    Residents see their own mail; an estate admin sees mail to their estate's people; a platform
    admin sees everything.
    """
    query = select(EmailMessage).order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
    if viewer.role == Role.ESTATE_ADMIN:
        query = query.join(User, User.id == EmailMessage.user_id).where(User.estate_id == viewer.estate_id)
    elif viewer.role != Role.PLATFORM_ADMIN:
        query = query.where(EmailMessage.user_id == viewer.id)
    return db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False)
