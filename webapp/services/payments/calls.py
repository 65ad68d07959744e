"""Building provider requests for a payment and keeping the log of every provider call."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from webapp.extensions import db
from webapp.infra import bulk_writes, provider_slots
from webapp.models.payment import Payment, ProviderCallLog
from webapp.providers import registry
from webapp.services import ledger, notify


def service_for(api_provider: str, log_calls: list, shared_slots: provider_slots.SharedSlots | None = None):
    """A bills client for ``api_provider`` that appends every HTTP call it makes to ``log_calls``.

    Its purchase and status calls wait for one of the provider's slots (``PROVIDER_MAX_CONCURRENCY``
    across all workers; ``shared_slots``: those its batch holds); no slot in time raises a
    transient ``rate_limited`` error before sending.
    """
    service = registry.utility_service(api_provider, current_app.config, call_logger=log_calls.append)
    return provider_slots.capped(service, api_provider, shared_slots)


@dataclass(frozen=True)
class ItemRef:
    """A detached copy of the catalogue fields a purchase needs (no lazy loads during HTTP)."""

    provider_code: str
    item_code: str
    meter_type: str | None


@dataclass(frozen=True)
class PurchaseContext:
    """What a purchase and its outcome need, read before the payment is locked: the request, the
    provider, and the words and recipients of the outcome's notification."""

    api_provider: str
    request: dict
    what: str  # how the resident's notification names what was paid
    automation_id: int | None  # the automation whose occurrence this payment pays, if any
    account_ids: tuple[int, int, int] | None  # wallet, clearing, fees (``ledger.payment_account_ids``)
    recipients: dict  # notification event -> ``notify.Recipient`` for the outcomes
    expects_token: bool = False


def purchase_context(payment_id: int) -> PurchaseContext | None:
    """One read of the payment and what it pays (None for a payment that is not a utility purchase)."""
    return purchase_contexts([payment_id]).get(payment_id)


def purchase_contexts(payment_ids: list[int]) -> dict[int, PurchaseContext]:
    """``purchase_context`` of many payments in a handful of queries, whatever their number (the
    batch worker reads its whole batch so); payments that are not utility purchases are left out."""
    from webapp.services.automations.outcomes import automation_ids_for
    from webapp.services.payments.outcomes import what_was_paid
    from webapp.services.payments.references import rows_by_payment

    rows = [row for row in db.session.scalars(
        select(Payment).where(Payment.id.in_(payment_ids))
        .options(lazyload(Payment.events), joinedload(Payment.utility_account), joinedload(Payment.provider),
                 joinedload(Payment.user))
    ).unique() if row.utility_account is not None and row.provider is not None]
    if not rows:
        return {}
    automations = automation_ids_for([row.id for row in rows if row.source == "automation" and row.occurrence_key])
    accounts = ledger.payment_account_ids_for({(row.user_id, row.api_provider) for row in rows})
    references = rows_by_payment([row.id for row in rows])
    E = notify.NotificationEvent
    recipients = notify.recipients({row.user for row in rows}, (E.PAYMENT_SUCCEEDED, E.PAYMENT_FAILED))
    return {row.id: PurchaseContext(
        api_provider=row.api_provider, request=purchase_request(row, references[row.id]), what=what_was_paid(row),
        automation_id=automations.get(row.id), account_ids=accounts[(row.user_id, row.api_provider)],
        recipients={event: recipients[(row.user_id, event)] for event in (E.PAYMENT_SUCCEEDED, E.PAYMENT_FAILED)},
        expects_token=expects_token(row),
    ) for row in rows}


def purchase_request(payment: Payment, reference_rows: list | None = None) -> dict:
    """The purchase call's arguments; ``reference`` is the request_id the next attempt goes out
    under (our reference, or a later one for a VTpass resend on another Lagos day)."""
    from webapp.services.payments.references import current_request_id

    account = payment.utility_account
    entry = payment.provider
    return {
        "item": ItemRef(entry.provider_code, entry.item_code, entry.meter_type),
        "customer_id": account.customer_number,
        "amount_kobo": payment.amount_kobo,
        "reference": current_request_id(payment, reference_rows),
        "phone": payment.user.phone,
    }


def expects_token(payment: Payment) -> bool:
    """A prepaid electricity purchase: the provider owes the resident a token."""
    if payment.utility_type != "electricity":
        return False
    entry, account = payment.provider, payment.utility_account
    meter_type = (entry.meter_type if entry else None) or (account.meter_type if account else None)
    return (meter_type or "").lower() == "prepaid"


def _text(body) -> str | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body[:4000]
    return json.dumps(body, default=str)[:4000]


def persist(payment: Payment | None, log_calls: list) -> None:
    """Store the (already redacted) provider calls, linked to the payment when there is one."""
    for call in log_calls:
        bulk_writes.add(ProviderCallLog, dict(
            payment_id=payment.id if payment else None,
            provider=call.provider,
            operation=call.operation,
            method=call.method,
            url=call.url[:500],
            http_status=call.http_status,
            latency_ms=int(call.latency_ms),
            request_body=_text(call.request_body),
            response_body=_text(call.response_body),
            error=(call.error or None) and str(call.error)[:255],
        ))
    log_calls.clear()
