"""Notifications: the in-app inbox, per-event channel preferences and the email outbox (DESIGN §6).

Every delivery row carries a unique ``dedup_key`` so a replayed job or webhook can never notify
twice: the in-app row uses the caller's key, the email row the key plus ``:email``.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, one_of, utcnow


class Notification(db.Model):
    """One message in a person's in-app inbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        # Serves the unread badge (user_id, read_at IS NULL) and the inbox listing.
        Index("ix_notifications_user_read_created", "user_id", "read_at", "created_at"),
        # Links point inside the app only: a path, never another origin ("//evil.example").
        CheckConstraint("link IS NULL OR (substr(link, 1, 1) = '/' AND substr(link, 1, 2) <> '//')",
                        name="link_relative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    event: Mapped[str] = mapped_column(String(40), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.event} user={self.user_id}>"


class NotificationPreference(db.Model):
    """A person's explicit choice for one event on one channel; without a row the default applies."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "event", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    event: Mapped[str] = mapped_column(String(40), nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by one worker; nobody else may send it
    SENT = "sent"
    FAILED = "failed"



class EmailMessage(db.Model):
    """The email outbox: written in the caller's transaction, delivered by a job after commit."""

    __tablename__ = "email_messages"
    __table_args__ = (
        CheckConstraint(one_of("status", EmailStatus), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # Serves the periodic sender: queued rows whose next attempt is due.
        Index("ix_email_messages_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_email_messages_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    to_address: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(210), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=EmailStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # "smtp" or "outbox" (development: MAIL_SERVER empty, nothing leaves the machine).
    transport: Mapped[str | None] = mapped_column(String(10))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when a worker took it
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # retry backoff; NULL = now
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    def __repr__(self) -> str:
        return f"<EmailMessage {self.id} {self.status} user={self.user_id}>"
