"""Deliver the SMS outbox through Termii after commit, and apply Termii's delivery reports.

A row moves queued -> sending (claimed, a batch at a time, by one conditional ``UPDATE ...
WHERE status='queued'``, committed before any call) -> sent (Termii's ``message_id`` kept) ->
delivered or failed by its delivery report. Termii not taking it (no answer, 5xx, 429) puts it
back in the queue with a backoff (``policy.sms_retry_delay``) until ``SMS_MAX_ATTEMPTS``; a refusal
of the message itself fails it at once. The HTTP calls happen between transactions, never under a
lock. A row left in ``sending`` (its relay died mid-call) is marked failed, not resent: one
dedup key, one message.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from flask import current_app
from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.models import SmsMessage, SmsStatus
from webapp.models.base import utcnow
from webapp.providers import termii
from webapp.services import policy
from webapp.services.notify.outbox import DeliveryReport

log = logging.getLogger(__name__)

BATCH = 50


SmsRelayReport = DeliveryReport  # what one pass sent, failed, left for later or abandoned: as email's


def configured() -> bool:
    config = current_app.config
    return bool(config.get("TERMII_API_KEY") and config.get("TERMII_BASE_URL"))


def client() -> termii.TermiiClient:
    config = current_app.config
    return termii.TermiiClient(config["TERMII_BASE_URL"], config["TERMII_API_KEY"], config["TERMII_SENDER_ID"],
                               channel=config["TERMII_CHANNEL"], connect_timeout=config["SMS_CONNECT_TIMEOUT"],
                               read_timeout=config["SMS_READ_TIMEOUT"])


def _due():
    return (SmsMessage.status == SmsStatus.QUEUED.value,
            or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= utcnow()))


def claim(message_ids: Sequence[int] | None = None, limit: int = BATCH) -> list[int]:
    """queued and due -> sending, for up to ``limit`` rows (only ``message_ids`` when given); commits.

    The rows are chosen and switched by one statement whose WHERE repeats the queued-and-due test,
    so two relays running at once never claim the same row (PostgreSQL skips rows another relay
    has locked; SQLite serialises the writers).
    """
    chosen = select(SmsMessage.id).where(*_due()).order_by(SmsMessage.id).limit(limit)
    if message_ids is not None:
        chosen = chosen.where(SmsMessage.id.in_(list(message_ids)))
    chosen = chosen.with_for_update(skip_locked=True)
    now = utcnow()
    ids = db.session.scalars(
        update(SmsMessage).where(SmsMessage.id.in_(chosen.scalar_subquery()), *_due())
        .values(status=SmsStatus.SENDING.value, claimed_at=now, attempts=SmsMessage.attempts + 1)
        .returning(SmsMessage.id).execution_options(synchronize_session=False)).all()
    db.session.commit()
    return sorted(ids)


def _write(message_id: int, *, only_if: str, **values) -> bool:
    result = db.session.execute(update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.status == only_if)
                                .values(**values).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def relay(message_ids: Sequence[int] | None = None) -> SmsRelayReport:
    """Send the due queued SMS (only ``message_ids`` when given), each at most once.

    Without Termii settings nothing is claimed: the rows wait, queued, for a configured relay.
    """
    report = SmsRelayReport()
    _abandon_stale_sending(report)
    if not configured():
        log.warning("SMS not sent: TERMII_API_KEY / TERMII_BASE_URL are not set; messages stay queued")
        return report
    sender = client()
    while True:
        ids = claim(message_ids)
        if not ids:
            return report
        rows = db.session.execute(select(SmsMessage.id, SmsMessage.to_number, SmsMessage.body, SmsMessage.attempts)
                                  .where(SmsMessage.id.in_(ids))).all()
        db.session.rollback()  # end the read: no transaction is open while Termii is called
        for message_id, to_number, body, attempts in rows:
            _send_one(sender, message_id, to_number, body, attempts, report)
        if message_ids is not None:
            return report


def _send_one(sender: termii.TermiiClient, message_id: int, to_number: str, body: str, attempts: int,
              report: SmsRelayReport) -> None:
    try:
        sent = sender.send(to_number, body)
    except termii.SmsSendError as exc:
        if exc.temporary and attempts < current_app.config["SMS_MAX_ATTEMPTS"]:
            _write(message_id, only_if=SmsStatus.SENDING.value, status=SmsStatus.QUEUED.value,
                   last_error=exc.reason, next_attempt_at=utcnow() + policy.sms_retry_delay(attempts))
            report.retry.append(message_id)
            log.info("sms %s not taken by Termii (%s); retry later", message_id, exc.reason)
            return
        reason = "it could not be sent" if exc.temporary else "the SMS provider refused it"
        exc_reason = f"gave up after {attempts} attempts; last: {exc.reason}" if exc.temporary else exc.reason
        _write(message_id, only_if=SmsStatus.SENDING.value, status=SmsStatus.FAILED.value,
               last_error=exc_reason[:500], failure_reason=reason, next_attempt_at=None)
        report.failed.append(message_id)
        log.warning("sms %s failed: %s", message_id, exc_reason)
        return
    _write(message_id, only_if=SmsStatus.SENDING.value, status=SmsStatus.SENT.value,
           provider_message_id=sent.message_id, provider_status="Successfully Sent", sent_at=utcnow(),
           last_error=None, next_attempt_at=None)
    report.sent.append(message_id)


def _abandon_stale_sending(report: SmsRelayReport) -> None:
    cutoff = utcnow() - policy.SMS_STALE_SENDING_AFTER
    ids = db.session.scalars(
        update(SmsMessage).where(SmsMessage.status == SmsStatus.SENDING.value, SmsMessage.claimed_at < cutoff)
        .values(status=SmsStatus.FAILED.value, failure_reason="it could not be sent",
                last_error="the sender stopped mid-send; not retried so it cannot arrive twice")
        .returning(SmsMessage.id).execution_options(synchronize_session=False)).all()
    db.session.commit()
    report.abandoned.extend(ids)


# Delivery reports (https://developer.termii.com/events-and-reports).


class ReportRejected(ValueError):
    """Not a genuine, readable Termii report; nothing was changed. ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class ReportsNotConfigured(RuntimeError):
    """TERMII_WEBHOOK_SECRET is not set, so no report can be told from a forgery."""


def handle_delivery_report(raw_body: bytes, headers: Mapping[str, str]) -> str:
    """Apply one signed delivery report; what happened: "delivered", "failed", "pending",
    "unknown status", "unknown message" or "already final". Raises ``ReportRejected``."""
    secret = current_app.config.get("TERMII_WEBHOOK_SECRET") or ""
    if not secret:
        raise ReportsNotConfigured("TERMII_WEBHOOK_SECRET is not set")
    if not termii.signature_valid(raw_body, headers.get(termii.SIGNATURE_HEADER), secret):
        raise ReportRejected("invalid signature", 401)
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise ReportRejected("the body is not JSON", 400) from None
    try:
        delivery = termii.parse_delivery_report(payload)
    except termii.BadDeliveryReport as exc:
        raise ReportRejected(str(exc), 400) from None
    message = db.session.scalar(select(SmsMessage).where(SmsMessage.provider_message_id == delivery.message_id))
    if message is None:
        db.session.rollback()
        log.info("termii report for a message_id we never sent: %s", delivery.message_id)
        return "unknown message"
    if message.status in (SmsStatus.DELIVERED.value, SmsStatus.FAILED.value):
        db.session.rollback()
        return "already final"
    now = utcnow()
    message.provider_status = delivery.status
    message.reported_at = now
    if delivery.outcome == "delivered":
        message.status = SmsStatus.DELIVERED.value
    elif delivery.outcome == "failed":
        message.status = SmsStatus.FAILED.value
        message.failure_reason = delivery.reason
    db.session.commit()
    return {"delivered": "delivered", "failed": "failed", "pending": "pending"}.get(delivery.outcome, "unknown status")
