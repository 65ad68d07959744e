"""The references a purchase is known by at its provider (``ProviderReference`` rows).

Our ``Payment.reference`` is always the first request_id. A provider's own references (Flutterwave
tx_ref and flw_ref, VTpass transactionId) are kept as they arrive, and a VTpass purchase sent again
on a later Lagos day adds a request_id of its own. Status queries get all of them as
``PurchaseKeys``; the client asks by whichever its provider's status endpoint takes.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models.payment import Payment, ProviderReference, ProviderRefKind
from webapp.providers.base import PurchaseKeys
from webapp.providers.vtpass_codes import lagos_now, request_id_day, resend_request_id

log = logging.getLogger(__name__)
K = ProviderRefKind


def rows_for(payment_id: int) -> list[ProviderReference]:
    return list(db.session.scalars(
        select(ProviderReference).where(ProviderReference.payment_id == payment_id).order_by(ProviderReference.id)))


def request_ids(payment: Payment, rows: list[ProviderReference] | None = None) -> tuple[str, ...]:
    """Every request_id the purchase went out under, oldest first (ours first)."""
    rows = rows_for(payment.id) if rows is None else rows
    return (payment.reference, *(r.value for r in rows if r.kind == K.REQUEST_ID))


def current_request_id(payment: Payment, rows: list[ProviderReference] | None = None) -> str:
    return request_ids(payment, rows)[-1]


def rows_by_payment(payment_ids: list[int]) -> dict[int, list[ProviderReference]]:
    """``rows_for`` of many payments in one query."""
    found: dict[int, list[ProviderReference]] = {payment_id: [] for payment_id in payment_ids}
    for row in db.session.scalars(select(ProviderReference).where(ProviderReference.payment_id.in_(payment_ids))
                                  .order_by(ProviderReference.id)):
        found[row.payment_id].append(row)
    return found


def keys_for(payment: Payment) -> PurchaseKeys:
    rows = rows_for(payment.id)
    refs = {r.kind: r.value for r in rows if r.kind != K.REQUEST_ID}
    if payment.provider_reference and payment.api_provider == "flutterwave":
        refs.setdefault(K.TX_REF.value, payment.provider_reference)
    return PurchaseKeys(reference=payment.reference, request_ids=request_ids(payment, rows), refs=refs,
                        last_sent_at=payment.submitted_at)


def record(payment: Payment, refs: Mapping[str, str]) -> None:
    """Keep the provider's references from an answer (each once; a reference another payment
    already holds is logged and not taken, since it cannot be this purchase's)."""
    if not refs:
        return
    known = {(r.kind, r.value): r.payment_id for r in db.session.scalars(
        select(ProviderReference).where(ProviderReference.api_provider == payment.api_provider,
                                        ProviderReference.value.in_(list(refs.values()))))}
    for kind, value in refs.items():
        if kind not in {k.value for k in K} or not value:
            continue
        owner = known.get((kind, value))
        if owner == payment.id:
            continue
        if owner is not None:
            log.error("payment %s: %s %s already belongs to payment %s", payment.reference, kind, value, owner)
            continue
        db.session.add(ProviderReference(payment_id=payment.id, api_provider=payment.api_provider,
                                         kind=kind, value=str(value)[:120]))


def needs_new_request_id(payment: Payment, now: datetime) -> bool:
    """Whether a VTpass resend must go out under a new request_id: the current one is dated an
    earlier Lagos day, which VTpass refuses (085)."""
    if payment.api_provider != "vtpass":
        return False
    return request_id_day(current_request_id(payment)) != lagos_now(now).strftime("%Y%m%d")


def add_request_id(payment: Payment, now: datetime) -> str:
    """Record the request_id the next purchase attempt goes out under (see ``resend_request_id``)."""
    attempt = payment.purchase_attempts + 1
    value = resend_request_id(payment.reference, attempt, now)
    db.session.add(ProviderReference(payment_id=payment.id, api_provider=payment.api_provider,
                                     kind=K.REQUEST_ID.value, value=value, attempt=attempt))
    return value
