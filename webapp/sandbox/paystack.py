"""Paystack API (funding only), as the sandbox serves it under ``/paystack``; amounts in kobo.

Success: ``{"status": true, "message": ..., "data": ...}``; errors:
``{"status": false, "message": ..., "type": ..., "code": ...}``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from urllib.parse import urlencode

from flask import Blueprint, jsonify, request, url_for

from webapp.sandbox import funding
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.state import FundingTxn
from webapp.sandbox.wire import bearer_ok, parse_kobo, request_body, state

bp = Blueprint("paystack", __name__)

REFERENCE_RE = re.compile(r"^[A-Za-z0-9.=-]+$")
STATUS = {"pending": "pending", "success": "success", "failed": "failed", "abandoned": "abandoned"}
GATEWAY_RESPONSE = {"pending": "Awaiting payment", "success": "Successful", "failed": "Declined",
                    "abandoned": "The transaction was not completed"}


def fail(message: str, status: int = 400, type_: str = "validation_error", code: str = "invalid_params"):
    return jsonify({"status": False, "message": message, "type": type_, "code": code}), status


@bp.before_request
def check_auth():
    if not bearer_ok(SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"]):
        return fail("Invalid key", 401, "api_error", "invalid_key")
    return None


def rate_limited(reference: str):
    """429 when the fault injector says so (seeded per endpoint, reference and call number)."""
    sandbox = state()
    key = f"{request.endpoint}|{reference}"
    if sandbox.roll_fault("paystack", "funding", key, sandbox.count_call("paystack", key)):
        return fail("Rate limit exceeded, please retry later", 429, "api_error", "rate_limited")
    return None


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def fees_kobo(amount_kobo: int) -> int:
    """1.5% + ₦100 (the ₦100 waived under ₦2,500), capped at ₦2,000."""
    fee = amount_kobo * 15 // 1000 + (100_00 if amount_kobo >= 2_500_00 else 0)
    return min(fee, 2_000_00)


def customer_code(email: str) -> str:
    """The Paystack customer code of an email (the same everywhere the sandbox shows a customer)."""
    return "CUS_" + hashlib.sha256(email.lower().encode()).hexdigest()[:14]


def transaction_json(txn: FundingTxn) -> dict:
    status = STATUS[txn.status]
    transfer = txn.kind == "transfer"
    return {
        "id": txn.id, "domain": "test", "status": status, "reference": txn.reference, "receipt_number": None,
        "amount": txn.amount_kobo, "requested_amount": txn.amount_kobo, "message": None,
        "gateway_response": GATEWAY_RESPONSE[txn.status], "paid_at": _iso(txn.paid_at),
        "created_at": _iso(txn.created_at), "transaction_date": _iso(txn.created_at),
        "channel": "dedicated_nuban" if transfer else "card",
        "currency": txn.currency, "ip_address": "127.0.0.1", "metadata": txn.metadata or "",
        "fees": fees_kobo(txn.amount_kobo) if status == "success" else 0,
        "customer": dict(txn.customer) if txn.customer else {
            "id": 100_000 + txn.id % 100_000, "email": txn.email, "customer_code": customer_code(txn.email),
            "first_name": None, "last_name": None, "phone": txn.phone},
        "authorization": dict(txn.authorization) if txn.authorization else {}, "plan": None,
    }


def signed_webhook(txn: FundingTxn, amount_kobo: int | None = None) -> tuple[bytes, dict]:
    """``charge.success`` body and its ``x-paystack-signature`` (hex HMAC-SHA512 of the raw body).

    ``amount_kobo`` makes the body claim another amount than the transaction's (mismatch tests)."""
    data = transaction_json(txn)
    if amount_kobo is not None:
        data["amount"] = data["requested_amount"] = amount_kobo
    body = json.dumps({"event": "charge.success", "data": data}, separators=(",", ":")).encode()
    secret = SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode()
    return body, {"x-paystack-signature": hmac.new(secret, body, hashlib.sha512).hexdigest()}


def after_checkout(txn: FundingTxn) -> None:
    """Paystack only sends a webhook for a successful charge (declines and cancels send none)."""
    url = funding.webhook_url(state(), "paystack", funding.origin(txn.callback_url))
    if txn.status == "success" and url:
        body, headers = signed_webhook(txn)
        funding.deliver(state(), url, body, headers, gateway="paystack", event="charge.success",
                        reference=txn.reference)


def redirect_url(txn: FundingTxn) -> str | None:
    if not txn.callback_url:
        return None
    joiner = "&" if "?" in txn.callback_url else "?"
    return f"{txn.callback_url}{joiner}{urlencode({'trxref': txn.reference, 'reference': txn.reference})}"


def _reference(body: dict):
    reference = str(body.get("reference") or "").strip() or f"T{secrets.token_hex(8)}"
    if not REFERENCE_RE.match(reference):
        return None, fail("Invalid transaction reference: only -, ., = and alphanumeric characters allowed")
    return reference, None


def _charge_request(body: dict):
    """``(reference, amount, email)`` of a checkout or charge request, or the answer refusing it, in
    this order: the reference, the rate limit, then the amount."""
    reference, problem = _reference(body)
    if problem:
        return (None, None, None), problem
    limited = rate_limited(reference)
    if limited:
        return (None, None, None), limited
    amount, email = parse_kobo(body.get("amount")), str(body.get("email") or "").strip()
    if amount is None:
        return (None, None, None), fail("Invalid Amount Sent")
    return (reference, amount, email), None


@bp.post("/transaction/initialize")
def initialize():
    body = request_body()
    (reference, amount, email), problem = _charge_request(body)
    if problem:
        return problem
    if "@" not in email:
        return fail("Invalid Email Address Passed")
    sandbox = state()
    with sandbox.lock:
        if funding.get(sandbox, "paystack", reference):
            return fail("Duplicate charge request", code="duplicate_reference")
        txn = funding.create(sandbox, "paystack", reference, amount, email,
                             currency=str(body.get("currency") or "NGN"), callback_url=body.get("callback_url"),
                             metadata=body.get("metadata"))
    link = url_for("checkout.page", gateway="paystack", reference=reference, _external=True)
    return jsonify({"status": True, "message": "Authorization URL created",
                    "data": {"authorization_url": link, "access_code": txn.access_code, "reference": reference}})


@bp.get("/transaction/verify/<reference>")
def verify(reference: str):
    limited = rate_limited(reference)
    if limited:
        return limited
    txn = funding.get(state(), "paystack", reference)
    if txn is None:
        return fail("Transaction reference not found", 404, code="transaction_not_found")
    return jsonify({"status": True, "message": "Verification successful", "data": transaction_json(txn)})


@bp.post("/transaction/charge_authorization")
def charge_authorization():
    body = request_body()
    (reference, amount, email), problem = _charge_request(body)
    if problem:
        return problem
    code = str(body.get("authorization_code") or "")
    sandbox = state()
    with sandbox.lock:
        saved = sandbox.authorizations.get(code)
        if saved is None:
            return fail("Invalid authorization code", code="invalid_authorization")
        if saved["email"].lower() != email.lower():
            return fail("Email does not match Authorization code. Authorization may be inactive or belong to a "
                        "different email. Please confirm.")
        if funding.get(sandbox, "paystack", reference):
            return fail("Duplicate charge request", code="duplicate_reference")
        txn = funding.create(sandbox, "paystack", reference, amount, saved["email"], kind="charge_authorization",
                             metadata=body.get("metadata"))
        txn.authorization = dict(saved["authorization"])
        funding.settle(sandbox, txn)
    url = funding.webhook_url(sandbox, "paystack", saved["origin"])
    if txn.status == "success" and url:
        payload, headers = signed_webhook(txn)
        funding.deliver_in_background(sandbox, url, payload, headers, gateway="paystack", event="charge.success",
                                      reference=reference)
    return jsonify({"status": True, "message": "Charge attempted", "data": transaction_json(txn)})
