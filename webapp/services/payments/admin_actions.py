"""What an estate admin may do to a payment. Each action is audited and tells the resident.

The caller (the admin blueprint) has already checked that the payment belongs to an estate the
admin may see; these functions still refuse moves the lifecycle does not allow.
"""
from __future__ import annotations

from webapp.extensions import db
from webapp.models import Payment, PaymentStatus
from webapp.money import naira
from webapp.services import audit, ledger, notify
from webapp.services.payments import creation, jobs, state

S = PaymentStatus
# The audit log is read by admins and kept for years: a token goes in masked, never whole.
FIELDS = ("status", "status_reason", "amount_kobo", "fee_kobo", "masked_token")


class ActionRefused(ValueError):
    """The action does not apply to this payment in its current state (message for the page)."""


def _actor(admin) -> str:
    return f"admin:{admin.email}"


def approve_held(payment_id: int, admin, reason: str = "") -> Payment:
    """held → created, then the normal path (debit, buy) runs in a worker."""
    payment = state.lock(payment_id)
    if payment.status != S.HELD:
        db.session.rollback()
        raise ActionRefused("Only a payment held for review can be approved.")
    before = audit.snapshot(payment, FIELDS)
    state.transition(payment, S.CREATED, f"Approved by an estate admin{': ' + reason if reason else ''}",
                     actor=_actor(admin))
    audit.record("payment.approve", "payment", payment.id, estate_id=payment.estate_id, before=before,
                 after=audit.snapshot(payment, FIELDS), reason=reason)
    notify.notify(payment.user_id, notify.NotificationEvent.PAYMENT_HELD, title="Payment approved",
                  body=f"Your payment of {naira(payment.amount_kobo)} was approved and is being processed.",
                  link=f"/pay/{payment.id}", dedup_key=f"payment:{payment.reference}:approved")
    db.session.commit()
    creation.enqueue(payment)
    notify.enqueue_pending_emails()
    return payment


def reject_held(payment_id: int, admin, reason: str) -> Payment:
    """held → cancelled. Nothing was debited while held, so nothing is refunded."""
    if not reason.strip():
        raise ActionRefused("Give a reason; the resident will see it.")
    payment = state.lock(payment_id)
    if payment.status != S.HELD:
        db.session.rollback()
        raise ActionRefused("Only a payment held for review can be rejected.")
    before = audit.snapshot(payment, FIELDS)
    state.transition(payment, S.CANCELLED, f"Rejected by an estate admin: {reason}", actor=_actor(admin))
    if ledger.find_entry(ledger.payment_debit_key(payment.reference)) is not None:  # defensive: never expected
        ledger.refund_payment(payment.reference)
    audit.record("payment.reject", "payment", payment.id, estate_id=payment.estate_id, before=before,
                 after=audit.snapshot(payment, FIELDS), reason=reason)
    notify.notify(payment.user_id, notify.NotificationEvent.PAYMENT_FAILED, title="Payment rejected",
                  body=f"Your payment of {naira(payment.amount_kobo)} was not made: {reason}. Nothing was taken "
                       "from your wallet.", link=f"/pay/{payment.id}",
                  dedup_key=f"payment:{payment.reference}:rejected")
    db.session.commit()
    notify.enqueue_pending_emails()
    return payment


def refund_succeeded(payment_id: int, admin, reason: str) -> Payment:
    """succeeded → refunded: the exact debit goes back to the resident's wallet, once."""
    if not reason.strip():
        raise ActionRefused("Give a reason for the refund; the resident will see it.")
    payment = state.lock(payment_id)
    if payment.status != S.SUCCEEDED:
        db.session.rollback()
        raise ActionRefused("Only a succeeded payment can be refunded.")
    before = audit.snapshot(payment, FIELDS)
    state.transition(payment, S.REFUNDED, f"Refunded by an estate admin: {reason}", actor=_actor(admin))
    ledger.refund_payment(payment.reference)
    audit.record("payment.refund", "payment", payment.id, estate_id=payment.estate_id, before=before,
                 after=audit.snapshot(payment, FIELDS), reason=reason)
    notify.notify(payment.user_id, notify.NotificationEvent.PAYMENT_REFUNDED, title="Payment refunded",
                  body=f"{naira(payment.total_kobo)} is back in your wallet: {reason}.",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:refunded")
    db.session.commit()
    notify.enqueue_pending_emails()
    return payment


def requery_now(payment_id: int, admin) -> Payment:
    """Ask the provider about an unknown payment now instead of at its next scheduled check."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.status != S.UNKNOWN:
        db.session.rollback()
        raise ActionRefused("Only a payment whose outcome is unknown can be requeried.")
    before = audit.snapshot(payment, FIELDS)
    db.session.rollback()
    # An admin asks now, whatever the schedule; no answer: asked again within seconds.
    jobs.requery(payment_id, due_only=False)
    payment = db.session.get(Payment, payment_id)
    audit.record("payment.requery", "payment", payment.id, estate_id=payment.estate_id, before=before,
                 after=audit.snapshot(payment, FIELDS))
    db.session.commit()
    notify.enqueue_pending_emails()
    return payment
