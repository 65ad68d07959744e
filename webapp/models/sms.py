"""The SMS outbox: one row per text message, written in the caller's transaction and sent by a
relay after commit (``webapp/services/notify/sms_outbox.py``), then followed by Termii's delivery
report. Its ``dedup_key`` (the notification's key plus ``:sms``) makes a message happen once."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, one_of, utcnow


class SmsStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for the relay (or for the end of the resident's quiet hours)
    SENDING = "sending"  # claimed by one relay; nobody else may send it
    SENT = "sent"  # Termii took it and gave a message_id; its delivery report has not come
    DELIVERED = "delivered"
    FAILED = "failed"  # refused, out of attempts, or reported undelivered (``failure_reason``)


class SmsMessage(db.Model):
    __tablename__ = "sms_messages"
    __table_args__ = (
        CheckConstraint(one_of("status", SmsStatus), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # Serves the relay: queued rows whose (quiet-hours or retry) time has come.
        Index("ix_sms_messages_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_sms_messages_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    to_number: Mapped[str] = mapped_column(String(20), nullable=False)  # E.164, +234...
    body: Mapped[str] = mapped_column(Text, nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(210), unique=True, nullable=False)
    # Carries an electricity token: sent at once, quiet hours or not.
    urgent: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=SmsStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # Termii's id for the message (the send answer's ``message_id``), which its delivery report names.
    provider_message_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(100))  # the report's status, as Termii wrote it
    failure_reason: Mapped[str | None] = mapped_column(String(200))  # shown to the resident
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # NULL = now
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the last delivery report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    def __repr__(self) -> str:
        return f"<SmsMessage {self.id} {self.status} user={self.user_id}>"
