"""How a payment's story reads to whoever is looking at it: who took each step, and why it was refunded.

Timeline events name their actor with a key ("user:7", "admin:musa@example.com", "automation:3",
"system"); pages show people's names instead. ``actor_labels`` resolves every key of a timeline in
one query, whatever the number of events.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.models import AuditEntry, Payment, PaymentEvent, PaymentStatus, User

# What the app itself did (the worker, the janitor, a webhook): one plain word for all of it.
SYSTEM_LABEL = "Autopay"


def _parse(actor: str) -> tuple[str, str]:
    kind, _, rest = (actor or "").partition(":")
    return kind, rest


def actor_labels(events: Iterable[PaymentEvent], viewer: User) -> dict[str, str]:
    """``{actor key: words}`` for the events' actors as ``viewer`` should read them ("you",
    "Estate admin Musa Bello", "Ada Okafor", "your automatic payment", "Autopay"). One query."""
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
    return {key: _label(key, viewer, by_id, by_email) for key in keys}


def _label(key: str, viewer: User, by_id: dict, by_email: dict) -> str:
    kind, rest = _parse(key)
    if kind == "user" and rest.isdigit():
        person = by_id.get(int(rest))
        if person is not None and person.id == viewer.id:
            return "you"
        return (person.full_name if person is not None else "") or "a resident"
    if kind == "admin":
        person = by_email.get(rest)
        if person is not None and person.id == viewer.id:
            return "you"
        title = "Platform admin" if person is not None and person.role == "platform_admin" else "Estate admin"
        name = person.full_name if person is not None else ""
        return f"{title} {name}" if name else f"an {title.lower()}"
    if kind == "automation":
        return "the automatic payment" if viewer.is_admin else "your automatic payment"
    return SYSTEM_LABEL


def refund_reason(payment: Payment) -> str | None:
    """The reason the estate admin gave when refunding this payment (as the audit log holds it),
    without a closing full stop so a sentence can follow; None when it was not refunded by an admin."""
    if payment.status != PaymentStatus.REFUNDED:
        return None
    reason = db.session.scalar(
        select(AuditEntry.reason)
        .where(AuditEntry.object_type == "payment", AuditEntry.object_id == payment.id,
               AuditEntry.action == "payment.refund")
        .order_by(AuditEntry.id.desc()).limit(1))
    return (reason or "").strip().rstrip(".").strip() or None
