"""Per-person, per-event, per-channel choices. No row means the event's default applies."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import NotificationPreference
from webapp.services.notify.channels import all_channels, channel_names
from webapp.services.notify.events import ADMIN_EVENTS, EVENT_LABELS, NotificationEvent, default_enabled


class PreferenceError(ValueError):
    """The submitted settings name an event or channel that does not exist; nothing was saved."""


@dataclass(frozen=True)
class PreferenceCell:
    channel: str
    channel_label: str
    enabled: bool

    def field_value(self, event: NotificationEvent) -> str:
        return f"{event.value}:{self.channel}"


@dataclass(frozen=True)
class PreferenceRow:
    event: NotificationEvent
    label: str
    description: str
    cells: list[PreferenceCell]


def _saved(user_id: int, event: NotificationEvent | None = None) -> dict[tuple[str, str], bool]:
    query = select(NotificationPreference.event, NotificationPreference.channel, NotificationPreference.enabled
                   ).where(NotificationPreference.user_id == user_id)
    if event is not None:
        query = query.where(NotificationPreference.event == event.value)
    return {(ev, ch): enabled for ev, ch, enabled in db.session.execute(query)}


def enabled_channels(user_id: int, event: NotificationEvent) -> set[str]:
    """The channels this person wants ``event`` on: their saved choice, else the default."""
    saved = _saved(user_id, event)
    return {ch for ch in channel_names() if saved.get((event.value, ch), default_enabled(event, ch))}


def enabled_channels_of(user_ids: Iterable[int], events: Iterable[NotificationEvent]
                        ) -> dict[tuple[int, NotificationEvent], set[str]]:
    """``enabled_channels`` of many people and events in one query."""
    user_ids, events = sorted(set(user_ids)), list(events)
    saved: dict[int, dict[tuple[str, str], bool]] = {user_id: {} for user_id in user_ids}
    if user_ids and events:
        for user_id, event, channel, enabled in db.session.execute(
                select(NotificationPreference.user_id, NotificationPreference.event, NotificationPreference.channel,
                       NotificationPreference.enabled)
                .where(NotificationPreference.user_id.in_(user_ids),
                       NotificationPreference.event.in_([event.value for event in events]))):
            saved[user_id][(event, channel)] = enabled
    return {(user_id, event): {ch for ch in channel_names()
                               if saved[user_id].get((event.value, ch), default_enabled(event, ch))}
            for user_id in user_ids for event in events}


def matrix(user_id: int, *, admin: bool = False) -> list[PreferenceRow]:
    """Every event × channel with its current setting, for the preferences page (the admins'
    events only for an admin)."""
    saved = _saved(user_id)
    rows = []
    for event in NotificationEvent:
        if event in ADMIN_EVENTS and not admin:
            continue
        label, description = EVENT_LABELS[event]
        cells = [PreferenceCell(ch.name, ch.label, saved.get((event.value, ch.name), default_enabled(event, ch.name)))
                 for ch in all_channels()]
        rows.append(PreferenceRow(event, label, description, cells))
    return rows


def parse_choices(values: Iterable[str]) -> set[tuple[NotificationEvent, str]]:
    """Read the ticked boxes ("event:channel"); refuse the whole form on any name we do not know."""
    known_channels = set(channel_names())
    chosen = set()
    for value in values:
        event_name, _, channel = (value or "").partition(":")
        try:
            event = NotificationEvent(event_name)
        except ValueError:
            raise PreferenceError("The form named a notification we do not send. Nothing was changed.") from None
        if channel not in known_channels:
            raise PreferenceError("The form named a channel we do not have. Nothing was changed.")
        chosen.add((event, channel))
    return chosen


def save(user_id: int, chosen: set[tuple[NotificationEvent, str]]) -> int:
    """Store an explicit on/off for every event × channel (ticked = on) and commit; the number changed.

    Every cell is stored, not only those that differ from the default, so what a person saw and
    chose stays true even if a default changes later. Two tabs saving at once both insert the
    missing rows; the loser of that race reads the winner's rows and applies its choice on top.
    """
    try:
        return _save(user_id, chosen)
    except IntegrityError:
        db.session.rollback()
        return _save(user_id, chosen)


def _save(user_id: int, chosen: set[tuple[NotificationEvent, str]]) -> int:
    existing = {(p.event, p.channel): p for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user_id))}
    changed = 0
    for event in NotificationEvent:
        for channel in channel_names():
            want = (event, channel) in chosen
            row = existing.get((event.value, channel))
            if row is None:
                changed += want != default_enabled(event, channel)
                db.session.add(NotificationPreference(user_id=user_id, event=event.value, channel=channel,
                                                      enabled=want))
            elif row.enabled != want:
                row.enabled = want
                changed += 1
    db.session.commit()
    return changed


def set_preference(user_id: int, event: NotificationEvent, channel: str, enabled: bool) -> None:
    """Turn one event on one channel on or off (other services and tests; flushes, caller commits)."""
    if channel not in channel_names():
        raise PreferenceError(f"unknown channel {channel!r}")
    row = db.session.scalar(select(NotificationPreference).where(
        NotificationPreference.user_id == user_id, NotificationPreference.event == NotificationEvent(event).value,
        NotificationPreference.channel == channel))
    if row is None:
        db.session.add(NotificationPreference(user_id=user_id, event=NotificationEvent(event).value,
                                              channel=channel, enabled=enabled))
    else:
        row.enabled = enabled
    db.session.flush()
