"""SMS as a notification channel: the channel, residents' SMS settings and quiet hours.

The channel only writes an outbox row (``SmsMessage``) in the caller's transaction; the relay
(``sms_outbox``) sends it through Termii after the commit. A person gets SMS only for the events
they turned SMS on for (off by default, see ``events``) and only with a phone number on file.

Quiet hours: a row written inside the resident's quiet hours (in their timezone) waits, its
``next_attempt_at`` set to the end of them, unless the message is urgent (it carries an
electricity token, which the resident may be standing at the meter for): that goes at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.infra.bulk_writes import insert_once
from webapp.models import SmsMessage, SmsStatus, User
from webapp.models.base import utcnow
from webapp.services.notify.channels import Channel, NotificationMessage, register

# Three SMS pages of 160 characters: enough for a token and its units, and a bound on the cost.
MAX_SMS_CHARS = 459

UNCOMMITTED_SMS_KEY = "notify_uncommitted_sms_ids"
PENDING_SMS_KEY = "notify_committed_sms_ids"


@event.listens_for(Session, "after_commit")
def _sms_committed(session: Session) -> None:
    written = session.info.pop(UNCOMMITTED_SMS_KEY, None)
    if written:
        session.info.setdefault(PENDING_SMS_KEY, []).extend(written)


@event.listens_for(Session, "after_rollback")
def _sms_rolled_back(session: Session) -> None:
    session.info.pop(UNCOMMITTED_SMS_KEY, None)


def sms_written(message_id: int) -> None:
    db.session.info.setdefault(UNCOMMITTED_SMS_KEY, []).append(message_id)


def minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Africa/Lagos")


def quiet_until(now: datetime, timezone: str, start: int | None, end: int | None) -> datetime | None:
    """The UTC end of the quiet hours ``now`` falls in, or None when it falls in none.

    ``start`` and ``end`` are minutes after local midnight; a start after the end spans midnight.
    """
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(_zone(timezone))
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    until = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)


def sms_text(message: NotificationMessage) -> str:
    text = f"{message.title}\n{message.body}".strip()
    return text if len(text) <= MAX_SMS_CHARS else text[:MAX_SMS_CHARS - 1] + "…"


class SmsChannel(Channel):
    name = "sms"
    label = "SMS"

    def send(self, user, message: NotificationMessage) -> bool:
        # ``user`` may be a ``Recipient`` read ahead of a batch; SMS is off by default, so loading
        # the person here only happens for those who turned it on.
        person = user if isinstance(user, User) else db.session.get(User, user.id)
        if person is None or not person.phone:
            return False
        held = None if message.urgent else quiet_until(utcnow(), person.effective_timezone,
                                                       person.sms_quiet_start, person.sms_quiet_end)
        return insert_once(SmsMessage, {
            "user_id": person.id, "to_number": person.phone, "body": sms_text(message),
            "dedup_key": f"{message.dedup_key}:sms", "urgent": message.urgent,
            "status": SmsStatus.QUEUED.value, "attempts": 0, "next_attempt_at": held,
        }, then=sms_written) is not None


register(SmsChannel())


class SmsSettingsError(ValueError):
    """The SMS settings form cannot be saved as typed; ``field`` names the field at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SmsSettings:
    phone: str | None
    quiet_start: time | None
    quiet_end: time | None


def settings_of(user: User) -> SmsSettings:
    def as_time(value: int | None) -> time | None:
        return None if value is None else time(value // 60, value % 60)

    return SmsSettings(user.phone, as_time(user.sms_quiet_start), as_time(user.sms_quiet_end))


def save_settings(user: User, phone: str, quiet_start: time | None, quiet_end: time | None) -> SmsSettings:
    """Store the phone number (E.164, Nigerian) and quiet hours, and commit; nothing on an error.

    An empty phone removes the number (no SMS then, whatever the preferences say).
    """
    from webapp.services.identity.credentials import AccountError, normalise_phone  # identity imports notify

    phone = (phone or "").strip()
    if phone:
        try:
            phone = normalise_phone(phone)
        except AccountError as exc:
            raise SmsSettingsError(str(exc), "phone") from None
    if (quiet_start is None) != (quiet_end is None):
        raise SmsSettingsError("Give both ends of your quiet hours, or neither.",
                               "quiet_end" if quiet_end is None else "quiet_start")
    if quiet_start is not None and minutes(quiet_start) == minutes(quiet_end):
        raise SmsSettingsError("Quiet hours must end at a different time than they start.", "quiet_end")
    user.phone = phone or None
    user.sms_quiet_start = None if quiet_start is None else minutes(quiet_start)
    user.sms_quiet_end = None if quiet_end is None else minutes(quiet_end)
    db.session.commit()
    return settings_of(user)


NO_PHONE_FOR_SMS = "Add your phone number under SMS settings before choosing SMS. Nothing was changed."


@dataclass(frozen=True)
class FailedSms:
    to_number: str
    reason: str
    at: datetime


def recent_failures(user_id: int, limit: int = 5, days: int = 30) -> list[FailedSms]:
    """The person's SMS that did not arrive lately, newest first, for the preferences page."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        select(SmsMessage.to_number, SmsMessage.failure_reason, SmsMessage.last_error, SmsMessage.reported_at,
               SmsMessage.created_at)
        .where(SmsMessage.user_id == user_id, SmsMessage.status == SmsStatus.FAILED.value,
               SmsMessage.created_at >= since)
        .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc()).limit(limit)).all()
    return [FailedSms(to, reason or "it could not be sent", reported or created)
            for to, reason, _error, reported, created in rows]
