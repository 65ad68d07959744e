"""What follows a payment's final state, in the same transaction: the bill it paid, the resident's
notification, and the automation's failure count."""
from __future__ import annotations

from ...extensions import db
from ...models import Bill, Payment
from .. import notify

E = notify.NotificationEvent


def _naira(kobo: int) -> str:
    from ...templating import naira

    return naira(kobo)


def what_was_paid(payment: Payment) -> str:
    if payment.bill_id:
        bill = db.session.get(Bill, payment.bill_id)
        return bill.title if bill else "your estate bill"
    account = payment.utility_account
    return f"{account.nickname} ({payment.provider.name})" if account and payment.provider else "your bill"


def succeeded(payment: Payment, what: str | None = None, automation_id: int | None = None,
              to: notify.Recipient | None = None) -> None:
    """(An estate bill is marked paid at the debit, under its lock, with the money.)

    ``what``, ``automation_id`` and ``to`` may be read before the lock (``calls.purchase_context``).
    """
    body = f"{_naira(payment.amount_kobo)} paid to {what or what_was_paid(payment)}."
    if payment.token:
        body += f" Token: {' '.join(payment.token_groups)}."
    if payment.units:
        body += f" Units: {payment.units}."
    notify.notify(payment.user_id, E.PAYMENT_SUCCEEDED, title="Payment succeeded", body=body,
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:succeeded", to=to)
    _automation_outcome(payment, ok=True, automation_id=automation_id)


def failed(payment: Payment, refunded: bool, what: str | None = None, to: notify.Recipient | None = None) -> None:
    body = (f"{_naira(payment.amount_kobo)} to {what or what_was_paid(payment)} did not go through: "
            f"{payment.status_reason}")
    if refunded:
        body += f" {_naira(payment.total_kobo)} is back in your wallet."
    notify.notify(payment.user_id, E.PAYMENT_FAILED, title="Payment failed", body=body,
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:failed", to=to)
    _automation_outcome(payment, ok=False)


def cancelled(payment: Payment) -> None:
    notify.notify(payment.user_id, E.PAYMENT_FAILED, title="Payment not made",
                  body=f"{_naira(payment.amount_kobo)} to {what_was_paid(payment)} was not made: "
                       f"{payment.status_reason}",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:cancelled")
    _automation_outcome(payment, ok=False)


def delayed(payment: Payment) -> None:
    notify.notify(payment.user_id, E.PAYMENT_DELAYED, title="Payment delayed",
                  body=f"{_naira(payment.amount_kobo)} to {what_was_paid(payment)} has not been confirmed by the "
                       "provider yet. We keep checking and will never charge you twice.",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:delayed")


def _automation_outcome(payment: Payment, ok: bool, automation_id: int | None = None) -> None:
    if payment.source != "automation" or not payment.occurrence_key:
        return
    from ..automations import outcomes as automation_outcomes

    automation_outcomes.record(payment, ok, automation_id=automation_id)
