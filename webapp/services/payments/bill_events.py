"""Flutterwave's bill-status webhook (``singlebillpayment.status``, the docs' "Bill Payment Example").

As with funding, the event is only a hint and settles nothing itself: it names one of our payments
(``data.customer_reference`` is our ``Payment.reference``; else Flutterwave's ``tx_ref`` or
``flw_ref``) and queues ``check_payment``, which asks Flutterwave now through the janitor's own
steps (``lifecycle.check_now``). Whatever the event claims, only the provider's answer to that
status query moves the payment. So a forged event (wrong ``verif-hash``) and a malformed one are
refused before any lookup, and a replay asks again, at most once at a time, and finds the payment
final.
"""
from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from webapp.extensions import db
from webapp.models.payment import Payment, ProviderReference, ProviderRefKind
from webapp.providers.http import header_value
from webapp.services.payments import jobs

log = logging.getLogger(__name__)

EVENT = "singlebillpayment.status"
API_PROVIDER = "flutterwave"
# Where the event may name the purchase, in the order we trust them: ours first.
REFERENCE_FIELDS = ("customer_reference", "tx_ref", "flw_ref")
MAX_REFERENCE = 120  # ProviderReference.value


class NotConfigured(RuntimeError):
    """No ``FLUTTERWAVE_SECRET_HASH``: no event can be authenticated, so none is accepted."""


class BillEventRejected(ValueError):
    """An event we refuse: ``status`` is 401 for a bad signature, 400 for a body we cannot use."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class CheckUnavailable(RuntimeError):
    """The status check could not be queued (Redis unreachable); nothing changed. Deliver again."""


@dataclass(frozen=True)
class BillEvent:
    customer_reference: str | None
    tx_ref: str | None
    flw_ref: str | None


@dataclass(frozen=True)
class BillEventResult:
    outcome: str  # "checking", "already checking", "final" (nothing left to ask) or "ignored"
    reference: str | None = None


def signature_ok(headers: Mapping, secret_hash: str) -> bool:
    """``verif-hash`` must equal our secret hash, compared in constant time."""
    given = header_value(headers, "verif-hash")
    return bool(secret_hash) and bool(given) and hmac.compare_digest(given.encode(), secret_hash.encode())


def handle_webhook(raw_body: bytes, headers: Mapping) -> BillEventResult:
    """Authenticate a bill event, then queue a status check of the payment it names.

    Raises ``NotConfigured``, ``BillEventRejected`` (401/400) and ``CheckUnavailable``; none of
    them changes anything.
    """
    secret_hash = current_app.config.get("FLUTTERWAVE_SECRET_HASH") or ""
    if not secret_hash:
        raise NotConfigured("FLUTTERWAVE_SECRET_HASH is not set")
    if not signature_ok(headers, secret_hash):
        raise BillEventRejected("invalid signature", 401)
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BillEventRejected("body is not JSON", 400) from exc
    return handle_event(payload)


def handle_event(payload) -> BillEventResult:
    """Queue a status check for the payment an authenticated event names (the funding route's
    Flutterwave events come here too when they are bill events)."""
    event = parse(payload)
    found = find_payment(event)
    db.session.rollback()  # only read; hold no snapshot while talking to Redis
    if found is None:
        log.warning("flutterwave bill event for unknown references %s ignored", event)
        return BillEventResult("ignored")
    payment_id, reference, settled = found
    if settled:
        log.info("flutterwave bill event for %s: already final, nothing to ask", reference)
        return BillEventResult("final", reference)
    queued = enqueue_check(payment_id, reference)
    log.info("flutterwave bill event for %s: status check %s", reference, "queued" if queued else "already queued")
    return BillEventResult("checking" if queued else "already checking", reference)


def parse(payload) -> BillEvent:
    """The references a ``singlebillpayment.status`` body names; ``BillEventRejected`` (400) if it is
    not one, or names none."""
    if not isinstance(payload, dict):
        raise BillEventRejected("body is not a JSON object", 400)
    if payload.get("event") != EVENT:
        raise BillEventRejected(f"not a {EVENT} event", 400)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BillEventRejected("event has no data object", 400)
    refs: dict[str, str | None] = {}
    for field in REFERENCE_FIELDS:
        value = data.get(field)
        if value is not None and not isinstance(value, str):
            raise BillEventRejected(f"data.{field} must be a string", 400)
        value = (value or "").strip()
        if len(value) > MAX_REFERENCE:
            raise BillEventRejected(f"data.{field} is too long", 400)
        refs[field] = value or None
    if not any(refs.values()):
        raise BillEventRejected("event names no reference", 400)
    return BillEvent(**refs)


def find_payment(event: BillEvent) -> tuple[int, str, bool] | None:
    """``(id, reference, settled)`` of the Flutterwave payment the event names, or None.

    ``settled``: final with nothing still owed (no token on its way), so there is nothing to ask.
    """
    query = select(Payment).where(Payment.api_provider == API_PROVIDER).options(lazyload(Payment.events))
    payment = None
    if event.customer_reference:
        payment = db.session.scalar(query.where(Payment.reference == event.customer_reference))
    for kind, value in ((ProviderRefKind.TX_REF, event.tx_ref), (ProviderRefKind.FLW_REF, event.flw_ref)):
        if payment is not None or not value:
            continue
        payment = db.session.scalar(
            query.join(ProviderReference, ProviderReference.payment_id == Payment.id)
            .where(ProviderReference.api_provider == API_PROVIDER, ProviderReference.kind == kind.value,
                   ProviderReference.value == value))
    if payment is None:
        return None
    return payment.id, payment.reference, payment.is_final and not payment.token_on_its_way


def enqueue_check(payment_id: int, reference: str) -> bool:
    """Queue one ``check_payment`` job; False when one for this payment is already waiting (a
    replay or a quick second event is absorbed by it). Raises ``CheckUnavailable`` if Redis is down."""
    try:
        jobs.check_payment.enqueue(payment_id, job_id=f"check-{reference}", unique=True)
    except DuplicateJobError:
        return False
    except RedisError as exc:
        log.warning("flutterwave bill event for %s: could not queue the check (%s)", reference, type(exc).__name__)
        raise CheckUnavailable("could not queue the status check") from exc
    return True
