"""Delivery channels behind one interface: in-app and email here, SMS in ``sms`` (each one
``Channel`` subclass + ``register``)."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.infra.bulk_writes import insert_once
from webapp.models import EmailMessage, Notification, User
from webapp.services.notify.events import NotificationEvent


@dataclass(frozen=True)
class NotificationMessage:
    event: NotificationEvent
    title: str
    body: str
    link: str | None  # a path inside the app, e.g. "/payments/12"
    dedup_key: str
    # Carries something the person needs now (an electricity token): SMS quiet hours do not hold it.
    urgent: bool = False


class Channel(abc.ABC):
    """One way of reaching a person. ``send`` writes inside the caller's transaction."""

    name: ClassVar[str]
    label: ClassVar[str]  # column heading on the preferences page

    @abc.abstractmethod
    def send(self, user: User, message: NotificationMessage) -> bool:
        """Record the message for this channel once per dedup key; True if this call recorded it.

        A replay (same dedup key) records nothing and returns False. Slow delivery (network) must
        not happen here: write an outbox row and deliver from a job after the caller commits.
        """


class InAppChannel(Channel):
    name = "in_app"
    label = "In-app"

    def send(self, user: User, message: NotificationMessage) -> bool:
        return insert_once(Notification, {
            "user_id": user.id, "event": message.event.value, "title": message.title, "body": message.body,
            "link": message.link, "dedup_key": message.dedup_key,
        }) is not None


# Outbox rows written in this session: uncommitted ids move to the committed list when the
# transaction commits and are dropped if it rolls back, so ``enqueue_pending_emails`` only ever
# enqueues rows a worker can read.
UNCOMMITTED_EMAILS_KEY = "notify_uncommitted_email_ids"
PENDING_EMAILS_KEY = "notify_committed_email_ids"


@event.listens_for(Session, "after_commit")
def _emails_committed(session: Session) -> None:
    written = session.info.pop(UNCOMMITTED_EMAILS_KEY, None)
    if written:
        session.info.setdefault(PENDING_EMAILS_KEY, []).extend(written)


@event.listens_for(Session, "after_rollback")
def _emails_rolled_back(session: Session) -> None:
    session.info.pop(UNCOMMITTED_EMAILS_KEY, None)


def email_written(message_id: int) -> None:
    """Note an outbox row this transaction wrote, for ``enqueue_pending_emails`` after its commit."""
    db.session.info.setdefault(UNCOMMITTED_EMAILS_KEY, []).append(message_id)


class EmailChannel(Channel):
    name = "email"
    label = "Email"

    def send(self, user: User, message: NotificationMessage) -> bool:
        return insert_once(EmailMessage, {
            "user_id": user.id, "to_address": user.email, "subject": message.title,
            "body_text": email_body(message), "dedup_key": f"{message.dedup_key}:email",
        }, then=email_written) is not None


def absolute_url(path: str) -> str:
    """Emails need whole addresses; PUBLIC_BASE_URL names the site. Only in development, without
    it, the current request's host (production requires PUBLIC_BASE_URL: a Host header is the
    client's to choose, and a link in an email must not point where they like)."""
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if not base and current_app.config.get("APP_ENV") != "production" and has_request_context():
        base = request.host_url
    return base.rstrip("/") + path


def email_body(message: NotificationMessage) -> str:
    parts = [message.body.strip()]
    if message.link:
        parts.append(f"Open it here: {absolute_url(message.link)}")
    parts.append("Utility Autopay\n"
                 f"Choose which emails you get: {absolute_url('/notifications/preferences')}")
    return "\n\n".join(p for p in parts if p) + "\n"


_REGISTRY: dict[str, Channel] = {}


def register(channel: Channel) -> None:
    _REGISTRY[channel.name] = channel


def all_channels() -> list[Channel]:
    """Channels in the order they appear on the preferences page."""
    return list(_REGISTRY.values())


def channel_names() -> list[str]:
    return list(_REGISTRY)


register(InAppChannel())
register(EmailChannel())
