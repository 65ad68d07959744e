"""Gateway-neutral funding truth: checkout transactions, their completion, saved cards and webhooks.

Paystack and Flutterwave render these transactions in their own formats (paystack.py,
flutterwave_funding.py); the hosted checkout (checkout.py) drives ``complete``.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from webapp.sandbox.state import FundingTxn, State

log = logging.getLogger(__name__)

DECLINED_KOBO = 113_13  # a checkout or saved-card charge of exactly ₦113.13 is declined (above the ₦100 minimum)


def create(state: State, gateway: str, reference: str, amount_kobo: int, email: str, *, currency: str = "NGN",
           callback_url: str | None = None, customer_name: str | None = None, phone: str | None = None,
           metadata=None, kind: str = "checkout") -> FundingTxn:
    """Record a new transaction; the caller has checked under ``state.lock`` that the reference is new."""
    digest = hashlib.sha256(f"{gateway}:{reference}".encode()).hexdigest()
    txn = FundingTxn(gateway=gateway, reference=reference, id=state.next_id(), amount_kobo=amount_kobo,
                     currency=currency, email=email, customer_name=customer_name, phone=phone,
                     callback_url=callback_url, kind=kind, access_code=digest[:15],
                     flw_ref=f"FLW-MOCK-{digest[:20]}", metadata=metadata)
    with state.lock:
        state.funding[(gateway, reference)] = txn
        state.funding_by_id[txn.id] = txn
    return txn


def get(state: State, gateway: str, reference: str) -> FundingTxn | None:
    with state.lock:
        return state.funding.get((gateway, reference))


def get_by_id(state: State, gateway: str, txn_id: int) -> FundingTxn | None:
    with state.lock:
        txn = state.funding_by_id.get(txn_id)
        return txn if txn is not None and txn.gateway == gateway else None


def new_authorization(reference: str) -> dict:
    """A reusable Paystack test-card authorization, fixed for the checkout reference."""
    digest = hashlib.sha256(f"auth:{reference}".encode()).hexdigest()
    return {"authorization_code": f"AUTH_{digest[:10]}", "bin": "408408", "last4": "4081", "exp_month": "12",
            "exp_year": "2030", "channel": "card", "card_type": "visa", "bank": "TEST BANK", "country_code": "NG",
            "brand": "visa", "reusable": True, "signature": f"SIG_{digest[10:30]}", "account_name": None}


def settle(state: State, txn: FundingTxn) -> None:
    """Decide a payment attempt: declined for exactly ₦113.13, else successful. Caller holds the lock."""
    if txn.amount_kobo == DECLINED_KOBO:
        txn.status = "failed"
        return
    txn.status = "success"
    txn.paid_at = datetime.now(UTC)
    if txn.gateway == "paystack" and txn.kind == "checkout":
        txn.authorization = new_authorization(txn.reference)
        state.authorizations[txn.authorization["authorization_code"]] = {
            "authorization": txn.authorization, "email": txn.email, "origin": origin(txn.callback_url)}


def complete(state: State, gateway: str, reference: str, action: str) -> tuple[FundingTxn | None, bool]:
    """Apply the checkout's Pay/Cancel once; returns (transaction, whether this call changed it)."""
    with state.lock:
        txn = state.funding.get((gateway, reference))
        if txn is None or txn.status != "pending":
            return txn, False
        if action == "pay":
            settle(state, txn)
        else:
            txn.status = "abandoned"
        return txn, True


def origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def webhook_url(state: State, gateway: str, fallback_origin: str | None) -> str | None:
    """``<webhook_base or origin of the callback URL>/webhooks/<gateway>``."""
    base = state.knobs.webhook_base or fallback_origin
    return f"{base.rstrip('/')}/webhooks/{gateway}" if base else None


def deliver(state: State, url: str, body: bytes, headers: dict, *, gateway: str, event: str, reference: str) -> dict:
    """POST a webhook with a short timeout; failure is recorded, never raised (the checkout goes on)."""
    record = {"gateway": gateway, "event": event, "reference": reference, "url": url,
              "at": datetime.now(UTC).isoformat(), "status_code": None, "error": None}
    timeout = state.knobs.webhook_timeout
    try:
        response = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                                 timeout=(min(timeout, 2.0), timeout))
        record["status_code"] = response.status_code
    except requests.RequestException as exc:
        record["error"] = type(exc).__name__
        log.warning("webhook %s for %s to %s failed: %s", event, reference, url, type(exc).__name__)
    with state.lock:
        state.webhooks.append(record)
    return record


def deliver_in_background(state: State, url: str, body: bytes, headers: dict, **info) -> None:
    threading.Thread(target=deliver, args=(state, url, body, headers), kwargs=info, daemon=True).start()
