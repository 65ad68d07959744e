"""Flutterwave's bill listing read for reconciliation (``services/reconciliation``).

The listing is ``GET /bills?from=&to=`` (Node-v3 SDK Bills.fetch_bills); the client returns one
``PurchaseResult`` per listed bill with our reference (``customer_reference``) as ``reference``.
Ours are matched by every key they are known by, so a bill listed under its tx_ref alone still
counts, and listed bills that match none of our purchases of any day are "unknown to us".
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from webapp.extensions import db
from webapp.models.payment import Payment, ProviderReference, ReconciliationMismatch, ReconciliationRun
from webapp.providers.base import PurchaseKeys, PurchaseResult

UNKNOWN_TO_US = "unknown_to_us"


class Purchase(Protocol):
    payment_id: int
    reference: str
    submitted_at: datetime
    keys: PurchaseKeys


def _keys(o: Purchase) -> tuple[str, ...]:
    return (*o.keys.all_request_ids, *o.keys.refs.values())


def match(ours: Sequence[Purchase], listed: list[PurchaseResult],
          settled_before: datetime) -> dict[int, PurchaseResult]:
    """Each of ours' answer, by payment id: every bill listed under one of its keys, combined. None
    listed is "not_found", or "unconfirmed" when sent after ``settled_before`` (Flutterwave's
    records may still lag, see ``FLUTTERWAVE_RECORD_LAG_SECONDS``)."""
    by_key = {key: o for o in ours for key in _keys(o)}
    found: dict[int, list[PurchaseResult]] = {}
    for bill in listed:
        owner = by_key.get(bill.reference) or next((by_key[v] for v in bill.refs.values() if v in by_key), None)
        if owner is not None:
            found.setdefault(owner.payment_id, []).append(bill)
    answers = {}
    for o in ours:
        bills = found.get(o.payment_id)
        if bills:
            answers[o.payment_id] = combine(o.reference, bills)
        else:
            status = "not_found" if o.submitted_at <= settled_before else "unconfirmed"
            answers[o.payment_id] = PurchaseResult(reference=o.reference, status=status)  # type: ignore[arg-type]
    return answers


def combine(reference: str, bills: list[PurchaseResult]) -> PurchaseResult:
    """One answer for a purchase listed more than once: a bill bought twice shows as the summed
    amount, so it is found as ``amount_differs``."""
    refs = {k: v for b in bills for k, v in b.refs.items()}
    done = [b for b in bills if b.status == "succeeded"]
    if done:
        amounts = [b.amount_kobo for b in done]
        total = None if None in amounts else sum(a or 0 for a in amounts)
        return PurchaseResult(reference=reference, status="succeeded", amount_kobo=total, refs=refs)
    status = "pending" if any(b.status == "pending" for b in bills) else bills[0].status
    return PurchaseResult(reference=reference, status=status, amount_kobo=bills[0].amount_kobo, refs=refs)


def unknown_to_us(ours: Sequence[Purchase], listed: list[PurchaseResult]) -> list[PurchaseResult]:
    """Listed bills (not failed) that are none of our purchases of any day and that no earlier run
    reported (the listing's one-day margins overlap the neighbouring days' runs)."""
    mine = {key for o in ours for key in _keys(o)}
    candidates: dict[str, PurchaseResult] = {}
    for bill in listed:
        if bill.status != "failed" and bill.reference not in mine and not mine & set(bill.refs.values()):
            candidates.setdefault(bill.reference, bill)
    if not candidates:
        return []
    values = list({*candidates, *(v for b in candidates.values() for v in b.refs.values())})
    known = set(db.session.scalars(select(Payment.reference).where(Payment.reference.in_(values))))
    known |= set(db.session.scalars(select(Payment.provider_reference).where(Payment.provider_reference.in_(values))))
    known |= set(db.session.scalars(select(ProviderReference.value).where(
        ProviderReference.api_provider == "flutterwave", ProviderReference.value.in_(values))))
    known |= set(db.session.scalars(
        select(ReconciliationMismatch.reference).join(ReconciliationRun)
        .where(ReconciliationRun.api_provider == "flutterwave", ReconciliationMismatch.kind == UNKNOWN_TO_US,
               ReconciliationMismatch.reference.in_([r[:120] for r in candidates]))))
    return [b for ref, b in candidates.items()
            if ref not in known and ref[:120] not in known and not known & set(b.refs.values())]
