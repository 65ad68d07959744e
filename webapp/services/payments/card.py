"""The "direct" payment source: charge the resident's saved Paystack card for exactly this
payment, credit the wallet with it, then pay from the wallet as usual.

The charge's reference is derived from the payment's (``card-<reference>``), so a retried job
asks Paystack about the same charge instead of charging twice, and the ledger credit is keyed
``funding:card-<reference>:credit`` so it posts once.
"""
from __future__ import annotations

import logging

from flask import current_app

from webapp.extensions import db
from webapp.models import Payment, PaymentStatus, SavedCard, User
from webapp.providers import registry
from webapp.providers.base import ErrorClass, ProviderError
from webapp.services import ledger
from webapp.services.payments import calls, outcomes, state

log = logging.getLogger(__name__)


class CardChargePending(RuntimeError):
    """The card charge's outcome is not known yet; the job is retried and asks again."""


def charge_reference(payment: Payment) -> str:
    return f"card-{payment.reference}"


def needs_card_charge(payment: Payment) -> bool:
    return bool(payment.details.get("card_id")) and ledger.find_entry(
        ledger.funding_credit_key(charge_reference(payment))) is None


def fund_from_card(payment_id: int) -> None:
    """Charge the card (no lock held), then credit the wallet once, or cancel the payment."""
    payment = db.session.get(Payment, payment_id)
    if payment.status != PaymentStatus.CREATED or not needs_card_charge(payment):
        db.session.rollback()
        return
    card = db.session.get(SavedCard, payment.details["card_id"])
    user = db.session.get(User, payment.user_id)
    reference, amount = charge_reference(payment), payment.total_kobo
    email, code = user.email, card.authorization_code if card is not None else None
    db.session.rollback()
    if code is None or card.user_id != payment.user_id:
        _cancel(payment_id, "The saved card for this automation is no longer available.")
        return
    log_calls: list = []
    client = registry.funding_client("paystack", current_app.config, call_logger=log_calls.append)
    try:
        result = client.charge_authorization(email, amount, code, reference)
    except ProviderError as err:
        if err.error_class == ErrorClass.PERMANENT:
            _cancel(payment_id, f"Your card was not charged: {err.message}", log_calls)
            return
        result = _verify(client, reference, log_calls, err)
    if result.status == "pending":
        result = _verify(client, reference, log_calls, None)
    if result.status != "success" or result.amount_kobo != amount or (result.currency or "NGN") != "NGN":
        _cancel(payment_id, "Your card was declined, so nothing was paid.", log_calls)
        return
    payment = state.lock(payment_id)
    calls.persist(payment, log_calls)
    ledger.credit_funding(payment.user_id, amount, "paystack", reference)
    state.note(payment, f"Charged your saved card •••• {card.last4} into your wallet")
    db.session.commit()


def _verify(client, reference: str, log_calls: list, cause: ProviderError | None):
    try:
        result = client.verify(reference)
    except ProviderError as err:
        raise CardChargePending(f"{reference}: {err.error_type}") from (cause or err)
    if result.status in ("pending", "not_found") and cause is not None:
        raise CardChargePending(f"{reference}: charge outcome unknown") from cause
    return result


def _cancel(payment_id: int, reason: str, log_calls: list | None = None) -> None:
    payment = state.lock(payment_id)
    calls.persist(payment, log_calls or [])
    if payment.status == PaymentStatus.CREATED:
        state.transition(payment, PaymentStatus.CANCELLED, reason)
        outcomes.cancelled(payment)
    db.session.commit()
