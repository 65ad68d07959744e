"""The payment state machine: every move is checked and recorded on the timeline."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from webapp.extensions import db
from webapp.infra import bulk_writes
from webapp.models.base import utcnow
from webapp.models.payment import FINAL_STATUSES, TRANSITIONS, Payment, PaymentEvent, PaymentStatus


class IllegalTransition(RuntimeError):
    """A move the lifecycle does not allow; always a bug, never a user error."""


def transition(payment: Payment, to: PaymentStatus, reason: str, actor: str = "system") -> None:
    current = PaymentStatus(payment.status)
    if to not in TRANSITIONS[current]:
        raise IllegalTransition(f"payment {payment.reference}: {current} -> {to} is not allowed")
    payment.status = to.value
    if to in FINAL_STATUSES:
        payment.completed_at = utcnow()
        payment.next_check_at = None
    if to in (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.HELD):
        payment.status_reason = reason[:255]
    _event(payment, current.value, to.value, reason, actor)


def record_created(payment: Payment, reason: str, actor: str) -> None:
    _event(payment, None, payment.status, reason, actor)


def note(payment: Payment, reason: str, actor: str = "system") -> None:
    """A timeline entry that is not a state change (a requery that learned nothing new, say)."""
    _event(payment, payment.status, payment.status, reason, actor)


def _event(payment: Payment, from_status: str | None, to_status: str, reason: str, actor: str) -> None:
    # Append-only: a batch writes its payments' events together (``bulk_writes.deferred``).
    bulk_writes.add(PaymentEvent, {"payment_id": payment.id, "from_status": from_status, "to_status": to_status,
                                   "reason": reason[:255], "actor": actor[:60]})


def lock(payment_id: int) -> Payment:
    """Load a payment with its row locked until commit.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks; a no-op write takes the
    database's write lock first, so the read that follows cannot go stale before we write.
    """
    db.session.expire_all()
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Payment).where(Payment.id == payment_id).values(id=Payment.id))
    return db.session.execute(
        select(Payment).where(Payment.id == payment_id).with_for_update().options(lazyload(Payment.events))
    ).scalar_one()


def load(payment_id: int) -> Payment | None:
    """Read a payment without its timeline (the workers never need the events they do not add)."""
    return db.session.get(Payment, payment_id, options=[lazyload(Payment.events)], populate_existing=True)
