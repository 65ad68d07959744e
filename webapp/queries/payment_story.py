"""How a payment's story reads to whoever is looking at it: who took each step, and why it was refunded.

Timeline events name their actor with a key ("user:7", "admin:musa@example.com", "automation:3",
"system"); pages show people's names instead. ``actor_labels`` resolves every key of a timeline in
one query, whatever the number of events.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.models import AuditEntry, Payment, PaymentEvent, PaymentStatus, User

# What the app itself did (the worker, the janitor, a webhook): one plain word for all of it.
SYSTEM_LABEL = "Autopay"
ROLE_TITLES = {"resident": "Resident", "estate_admin": "Estate admin", "platform_admin": "Platform admin"}


def _parse(actor: str) -> tuple[str, str]:
    kind, _, rest = (actor or "").partition(":")
    return kind, rest


def actor_labels(events: Iterable[PaymentEvent], viewer: User) -> dict[str, str]:
    """``{actor key: words}`` for the events' actors as ``viewer`` should read them. One query for all
    the people, whatever the number of events.

    A resident reads "you", "Estate admin Musa Bello", "your automatic payment", "Autopay"; an admin
    also needs to know who each person is, so reads the role with the name ("Resident Ada Okafor",
    "you (Estate admin Musa Bello)") and an admin's email where no name was given."""
    keys = {event.actor for event in events}
    user_ids, emails = set(), set()
    for key in keys:
        kind, rest = _parse(key)
        if kind == "user" and rest.isdigit():
            user_ids.add(int(rest))
        elif kind == "admin" and rest:
            emails.add(rest)
    by_id, by_email = {}, {}
    if user_ids or emails:
        rows = db.session.execute(select(User.id, User.email, User.full_name, User.role).where(
            or_(User.id.in_(user_ids), User.email.in_(emails)))).all()
        by_id = {row.id: row for row in rows}
        by_email = {row.email: row for row in rows}
    label = _admin_label if viewer.is_admin else _resident_label
    return {key: label(key, viewer, by_id, by_email) for key in keys}


def _person(key: str, by_id: dict, by_email: dict):
    kind, rest = _parse(key)
    if kind == "user" and rest.isdigit():
        return by_id.get(int(rest))
    if kind == "admin":
        return by_email.get(rest)
    return None


def _title(kind: str, person) -> str:
    role = person.role if person is not None else ("estate_admin" if kind == "admin" else "resident")
    return ROLE_TITLES.get(role, "Resident")


def _resident_label(key: str, viewer: User, by_id: dict, by_email: dict) -> str:
    kind, _ = _parse(key)
    person = _person(key, by_id, by_email)
    if person is not None and person.id == viewer.id:
        return "you"
    if kind == "user":
        return (person.full_name if person is not None else "") or "a resident"
    if kind == "admin":
        title, name = _title(kind, person), person.full_name if person is not None else ""
        return f"{title} {name}" if name else f"an {title.lower()}"
    if kind == "automation":
        return "your automatic payment"
    return SYSTEM_LABEL


def _admin_label(key: str, viewer: User, by_id: dict, by_email: dict) -> str:
    kind, rest = _parse(key)
    if kind not in ("user", "admin"):
        return "the resident's automatic payment" if kind == "automation" else SYSTEM_LABEL
    person = _person(key, by_id, by_email)
    # An admin's key carries the email, so it still says who even when the account is gone.
    name = (person.full_name or person.email) if person is not None else (rest if kind == "admin" else "")
    title = _title(kind, person)
    words = f"{title} {name}" if name else f"{'an' if title[0] in 'AEIOU' else 'a'} {title.lower()}"
    return f"you ({words})" if person is not None and person.id == viewer.id else words


@dataclass(frozen=True)
class RefundNote:
    """When an estate admin refunded a payment, and the reason they gave, ready to end a sentence."""

    refunded_at: datetime | None
    reason: str | None


def refund_reason(payment: Payment) -> RefundNote | None:
    """The estate admin's refund of this payment as the audit log holds it (the full reason the admin
    typed; the timeline's copy is cut to fit), or None when it was not refunded. A refunded payment
    with no audit entry still gets a note, with neither date nor reason."""
    if payment.status != PaymentStatus.REFUNDED:
        return None
    found = db.session.execute(
        select(AuditEntry.reason, AuditEntry.created_at)
        .where(AuditEntry.object_type == "payment", AuditEntry.object_id == payment.id,
               AuditEntry.action == "payment.refund")
        .order_by(AuditEntry.id.desc()).limit(1)).first()
    if found is None:
        return RefundNote(refunded_at=None, reason=None)
    return RefundNote(refunded_at=found.created_at, reason=_sentence(found.reason))


def _sentence(text: str | None) -> str | None:
    """``text`` closed by one full stop (or its own ? or !), so a page can show it as a sentence."""
    text = (text or "").strip().rstrip(".").strip()
    if not text:
        return None
    return text if text[-1] in "?!" else f"{text}."
