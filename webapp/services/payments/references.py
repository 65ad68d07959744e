"""The references a purchase is known by at its provider (``ProviderReference`` rows).

Our ``Payment.reference`` is always the first request_id. A provider's own references (Flutterwave
tx_ref and flw_ref, VTpass transactionId) are kept as they arrive, and a VTpass purchase sent again
on a later Lagos day adds a request_id of its own. Status queries get all of them as
``PurchaseKeys``; the client asks by whichever its provider's status endpoint takes.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import and_, or_, select

from webapp.extensions import db
from webapp.infra import bulk_writes
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


Owners = dict[tuple[str, str, str], int]  # (api_provider, kind, value) -> the payment holding it


def owners(answers: Iterable[tuple[str, Mapping[str, str]]]) -> Owners:
    """Who already holds the references of these ``(api_provider, refs)`` answers: one query."""
    wanted: dict[str, set[str]] = {}
    for api_provider, refs in answers:
        wanted.setdefault(api_provider, set()).update(str(value)[:120] for value in refs.values() if value)
    wanted = {api_provider: values for api_provider, values in wanted.items() if values}
    if not wanted:
        return {}
    rows = db.session.execute(select(ProviderReference.api_provider, ProviderReference.kind, ProviderReference.value,
                                     ProviderReference.payment_id)
                              .where(or_(*(and_(ProviderReference.api_provider == api_provider,
                                                ProviderReference.value.in_(sorted(values)))
                                           for api_provider, values in wanted.items()))))
    return {(api_provider, kind, value): payment_id for api_provider, kind, value, payment_id in rows}


def record(payment: Payment, refs: Mapping[str, str], known: Owners | None = None) -> None:
    """Keep the provider's references from an answer (each once; a reference another payment
    already holds is logged and not taken, since it cannot be this purchase's).

    ``known`` (from ``owners``, for a batch of answers) saves the query and is kept up to date,
    so two answers of one batch naming the same reference give it to the first only."""
    if not refs:
        return
    if known is None:
        known = owners([(payment.api_provider, refs)])
    for kind, value in refs.items():
        if kind not in {k.value for k in K} or not value:
            continue
        key = (payment.api_provider, kind, str(value)[:120])
        owner = known.get(key)
        if owner == payment.id:
            continue
        if owner is not None:
            log.error("payment %s: %s %s already belongs to payment %s", payment.reference, kind, value, owner)
            continue
        known[key] = payment.id
        bulk_writes.add(ProviderReference, {"payment_id": payment.id, "api_provider": payment.api_provider,
                                            "kind": kind, "value": key[2], "attempt": None})


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
