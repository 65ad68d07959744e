"""What follows a payment's final state, in the same transaction: the bill it paid, the resident's
notification, and the automation's failure count."""
from __future__ import annotations

from uuid import uuid4

from webapp.extensions import db
from webapp.models import Bill, Payment
from webapp.money import naira
from webapp.services import notify

E = notify.NotificationEvent


def token_text(payment: Payment) -> str:
    """The token as a message gives it: key change tokens first when the meter needs them."""
    token = " ".join(payment.token_groups)
    if not payment.key_change_tokens:
        return token
    kcts = ", ".join(f"KCT{n} {' '.join(groups)}" for n, groups in enumerate(payment.key_change_token_groups, 1))
    return f"{token}. Your meter needs a key change first: enter {kcts}, then the token"


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
    body = f"{naira(payment.amount_kobo)} paid to {what or what_was_paid(payment)}."
    if payment.token:
        body += f" Token: {token_text(payment)}."
    elif payment.token_next_check_at is not None:
        body += " Your token is on its way: we will send it as soon as the provider gives it."
    if payment.units:
        body += f" Units: {payment.units}."
    notify.notify(payment.user_id, E.PAYMENT_SUCCEEDED, title="Payment succeeded", body=body,
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:succeeded", to=to,
                  urgent=bool(payment.token))
    _automation_outcome(payment, ok=True, automation_id=automation_id)


def token_arrived(payment: Payment) -> None:
    """The token of a purchase that succeeded without it has come: tell the resident once."""
    body = f"Your token for {what_was_paid(payment)} ({naira(payment.amount_kobo)}): {token_text(payment)}."
    if payment.units:
        body += f" Units: {payment.units}."
    notify.notify(payment.user_id, E.PAYMENT_SUCCEEDED, title="Your token has arrived", body=body,
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:token", urgent=True)


class NoToken(ValueError):
    """The payment has no token to send (none was bought, or it has not come yet)."""


# Asked for just now, so these channels whatever the resident's preferences for payment messages.
RESEND_CHANNELS = frozenset({"in_app", "email"})
SMS_RESEND_CHANNELS = frozenset({"in_app", "sms"})


class NoPhone(ValueError):
    """A token asked for by SMS by a resident with no phone number for SMS."""


def resend_token(payment: Payment, user, channels: frozenset[str] = RESEND_CHANNELS,
                 owner_id: int | None = None) -> list[str]:
    """Send ``user`` the token of their ``payment`` again, in the inbox and by email (or by SMS,
    at once even in quiet hours: they asked for it); commits. ``owner_id``: the household whose
    payment it is, when ``user`` is a member acting for it.

    Each call is one request from the resident, so each sends once: its dedup key is new every
    time (the route's rate limit bounds how often). Raises ``NoToken`` and sends nothing when
    there is no token, ``LookupError`` when the payment is not theirs.
    """
    if payment.user_id != (owner_id or user.id):
        raise LookupError("not this resident's payment")
    if not payment.token:
        raise NoToken("This payment has no token to send.")
    if "sms" in channels and not user.phone:
        raise NoPhone("Add your phone number in your notification settings to get tokens by SMS.")
    body = f"Your token for {what_was_paid(payment)} ({naira(payment.amount_kobo)}): {token_text(payment)}."
    if payment.units:
        body += f" Units: {payment.units}."
    sent = notify.notify(user.id, E.PAYMENT_SUCCEEDED, title="Your token, as you asked", body=body,
                         link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:resend:{uuid4().hex}",
                         to=notify.Recipient(id=user.id, email=user.email, channels=channels),
                         urgent="sms" in channels)
    db.session.commit()
    notify.enqueue_pending_emails()
    return sent


def failed(payment: Payment, refunded: bool, what: str | None = None, to: notify.Recipient | None = None) -> None:
    body = (f"{naira(payment.amount_kobo)} to {what or what_was_paid(payment)} did not go through: "
            f"{payment.status_reason}")
    if refunded:
        body += f" {naira(payment.total_kobo)} is back in your wallet."
    notify.notify(payment.user_id, E.PAYMENT_FAILED, title="Payment failed", body=body,
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:failed", to=to)
    _automation_outcome(payment, ok=False)


def cancelled(payment: Payment) -> None:
    notify.notify(payment.user_id, E.PAYMENT_FAILED, title="Payment not made",
                  body=f"{naira(payment.amount_kobo)} to {what_was_paid(payment)} was not made: "
                       f"{payment.status_reason}",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:cancelled")
    _automation_outcome(payment, ok=False)


def delayed(payment: Payment) -> None:
    notify.notify(payment.user_id, E.PAYMENT_DELAYED, title="Payment delayed",
                  body=f"{naira(payment.amount_kobo)} to {what_was_paid(payment)} has not been confirmed by the "
                       "provider yet. We keep checking and will never charge you twice.",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:delayed")


def no_answer(payment: Payment) -> None:
    """The provider has not answered about this payment for a while: say so, and what happens."""
    notify.notify(payment.user_id, E.PAYMENT_DELAYED, title="We can't reach the provider",
                  body=f"{naira(payment.amount_kobo)} to {what_was_paid(payment)}: the provider has not answered "
                       "us for a while, so we cannot confirm it yet. We keep asking every few minutes and will "
                       "tell you the moment we know. You will never be charged twice, and if it did not go "
                       "through you get your money back.",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:no-answer")


def _automation_outcome(payment: Payment, ok: bool, automation_id: int | None = None) -> None:
    if payment.source != "automation" or not payment.occurrence_key:
        return
    from webapp.services.automations import outcomes as automation_outcomes

    automation_outcomes.record(payment, ok, automation_id=automation_id)
