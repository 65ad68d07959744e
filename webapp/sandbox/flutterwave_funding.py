"""Flutterwave v3 funding (hosted checkout), as the sandbox serves it under ``/flutterwave/v3``."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, request, url_for

from webapp.sandbox import funding
from webapp.sandbox.flutterwave import check_auth, error, ok
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.state import FundingTxn
from webapp.sandbox.wire import json_bytes, naira, parse_naira, request_body, state

bp = Blueprint("flutterwave_funding", __name__)
bp.before_request(check_auth)

STATUS = {"pending": "pending", "success": "successful", "failed": "failed", "abandoned": "cancelled"}
PROCESSOR_RESPONSE = {"pending": "Pending", "success": "Approved by Financial Institution",
                      "failed": "Declined by Financial Institution", "abandoned": "Transaction cancelled"}


def rate_limited(reference: str):
    sandbox = state()
    key = f"{request.endpoint}|{reference}"
    if sandbox.roll_fault("flutterwave", "funding", key, sandbox.count_call("flutterwave", key)):
        return error("Too many requests, please slow down", 429)
    return None


def app_fee_kobo(amount_kobo: int) -> int:
    """1.4% capped at ₦2,000."""
    return min(amount_kobo * 14 // 1000, 2_000_00)


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def transaction_json(txn: FundingTxn) -> dict:
    paid = txn.status == "success"
    fee = app_fee_kobo(txn.amount_kobo) if paid else 0
    data = {
        "id": txn.id, "tx_ref": txn.reference, "flw_ref": txn.flw_ref if txn.status != "pending" else None,
        "device_fingerprint": "N/A", "amount": naira(txn.amount_kobo), "currency": txn.currency,
        "charged_amount": naira(txn.amount_kobo), "app_fee": naira(fee), "merchant_fee": 0,
        "processor_response": PROCESSOR_RESPONSE[txn.status], "auth_model": "PIN", "ip": "127.0.0.1",
        "narration": "CARD Transaction ", "status": STATUS[txn.status], "payment_type": "card",
        "created_at": _iso(txn.created_at), "account_id": 17321, "amount_settled": naira(txn.amount_kobo - fee),
        "meta": txn.metadata,
        "customer": {"id": 200_000 + txn.id % 100_000, "name": txn.customer_name, "phone_number": txn.phone,
                     "email": txn.email, "created_at": _iso(txn.created_at)},
    }
    if txn.status in ("success", "failed"):
        data["card"] = {"first_6digits": "553188", "last_4digits": "2950", "issuer": "MASTERCARD CREDIT",
                        "country": "NG", "type": "MASTERCARD", "expiry": "09/32"}
    return data


def after_checkout(txn: FundingTxn) -> None:
    """``charge.completed`` (successful or failed) with the ``verif-hash`` header; none for a cancel."""
    url = funding.webhook_url(state(), "flutterwave", funding.origin(txn.callback_url))
    if txn.status in ("success", "failed") and url:
        body = json_bytes({"event": "charge.completed", "data": transaction_json(txn),
                           "event.type": "CARD_TRANSACTION"})
        headers = {"verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}
        funding.deliver(state(), url, body, headers, gateway="flutterwave", event="charge.completed",
                        reference=txn.reference)


def redirect_url(txn: FundingTxn) -> str | None:
    if not txn.callback_url:
        return None
    params = {"status": STATUS[txn.status], "tx_ref": txn.reference}
    if txn.status != "abandoned":
        params["transaction_id"] = str(txn.id)
    joiner = "&" if "?" in txn.callback_url else "?"
    return f"{txn.callback_url}{joiner}{urlencode(params)}"


@bp.post("/payments")
def payments():
    body = request_body()
    reference = str(body.get("tx_ref") or "").strip()
    if not reference:
        return error("tx_ref is required")
    limited = rate_limited(reference)
    if limited:
        return limited
    amount = parse_naira(body.get("amount"))
    customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
    email = str(customer.get("email") or "").strip()
    redirect_to = str(body.get("redirect_url") or "").strip()
    if amount is None:
        return error("amount must be a positive amount in naira")
    if "@" not in email:
        return error("customer.email is required")
    if not redirect_to:
        return error("redirect_url is required")
    sandbox = state()
    with sandbox.lock:
        existing = funding.get(sandbox, "flutterwave", reference)
        if existing is not None and existing.status != "pending":
            return error(f"Duplicate tx_ref: a transaction with tx_ref {reference} already exists and is "
                         f"{STATUS[existing.status]}", 409)
        if existing is None:
            funding.create(sandbox, "flutterwave", reference, amount, email,
                           currency=str(body.get("currency") or "NGN"), callback_url=redirect_to,
                           customer_name=customer.get("name"), phone=customer.get("phonenumber"),
                           metadata=body.get("meta"))
    link = url_for("checkout.page", gateway="flutterwave", reference=reference, _external=True)
    return ok("Hosted Link", {"link": link})


def _verified(txn: FundingTxn | None):
    if txn is None:
        return error("Transaction not found: no transaction was found for this id", 404)
    return ok("Transaction fetched successfully", transaction_json(txn))


@bp.get("/transactions/<int:txn_id>/verify")
def verify(txn_id: int):
    limited = rate_limited(str(txn_id))
    if limited:
        return limited
    return _verified(funding.get_by_id(state(), "flutterwave", txn_id))


@bp.get("/transactions/verify_by_reference")
def verify_by_reference():
    reference = request.args.get("tx_ref", "")
    limited = rate_limited(reference)
    if limited:
        return limited
    return _verified(funding.get(state(), "flutterwave", reference))
