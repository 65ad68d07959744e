"""``notify``: the one call payments, automations, funding and admin tools make to tell someone."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from webapp.extensions import db
from webapp.models import User
from webapp.services.notify.channels import NotificationMessage, all_channels
from webapp.services.notify.events import NotificationEvent
from webapp.services.notify.preferences import enabled_channels, enabled_channels_of

MAX_DEDUP_KEY = 190  # the email row appends ":email" to it, the SMS row ":sms"


class NotificationError(ValueError):
    """A caller passed something we cannot send (unknown event, outside link, bad dedup key)."""


def _clean_link(link: str | None) -> str | None:
    if link is None or link == "":
        return None
    # Only a path inside the app: an inbox link must never lead to another site.
    if not link.startswith("/") or link.startswith("//") or "\\" in link or len(link) > 500:
        raise NotificationError(f"link must be a path inside the app, got {link[:60]!r}")
    return link


@dataclass(frozen=True)
class Recipient:
    """Who gets an event and on which channels, read ahead of a short locked transaction."""

    id: int
    email: str
    channels: frozenset[str]


def recipient(user_id: int, event: NotificationEvent) -> Recipient | None:
    user = db.session.get(User, user_id)
    if user is None:
        return None
    return Recipient(id=user.id, email=user.email, channels=frozenset(enabled_channels(user_id, event)))


def recipients(users: Iterable[User], events: Iterable[NotificationEvent]
               ) -> dict[tuple[int, NotificationEvent], Recipient]:
    """``recipient`` of many people (already loaded) and events, their choices read in one query."""
    users = {user.id: user for user in users}
    chosen = enabled_channels_of(users, events)
    return {(user_id, event): Recipient(id=user_id, email=users[user_id].email, channels=frozenset(channels))
            for (user_id, event), channels in chosen.items()}


def notify(user_id: int, event: NotificationEvent | str, *, title: str, body: str, link: str | None = None,
           dedup_key: str, to: Recipient | None = None, urgent: bool = False) -> list[str]:
    """Tell a person about ``event`` on each channel they have on; the names of channels that sent.

    Writes in the caller's transaction and flushes; the caller commits, so the notification
    commits (or rolls back) with the state change that caused it. ``dedup_key`` makes it happen
    once: calling again with the same key (a replayed job, a second webhook) sends nothing and
    returns ``[]``. Use a key that names the fact, e.g. ``payment:<reference>:succeeded``.

    Email is only written to the outbox here; after committing, call ``enqueue_pending_emails()``
    (a periodic job also sends anything still queued, so a missed enqueue only delays it).
    ``to`` (from ``recipient``, read earlier) saves reading the person and their choices here.
    ``urgent`` (an electricity token) sends an SMS at once even in the person's quiet hours.
    """
    try:
        event = NotificationEvent(event)
    except ValueError:
        raise NotificationError(f"unknown notification event {event!r}") from None
    if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
        raise NotificationError(f"dedup_key must be 1 to {MAX_DEDUP_KEY} characters")
    if to is not None and to.id == user_id:
        user, wanted = to, to.channels
    else:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotificationError(f"no user {user_id}")
        wanted = enabled_channels(user_id, event)
    # One line: the title is also an email Subject header, where a line break would be injection.
    message = NotificationMessage(event=event, title=" ".join(title.split())[:200], body=body.strip(),
                                  link=_clean_link(link), dedup_key=dedup_key, urgent=urgent)
    return [channel.name for channel in all_channels()
            if channel.name in wanted and channel.send(user, message)]
