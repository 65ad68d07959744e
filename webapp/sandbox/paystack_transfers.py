"""Paystack Transfers as the sandbox serves them under ``/paystack``; amounts in kobo.

Shapes follow PaystackOSS/openapi (``src/assets/openapi/paths/bank.yaml``, ``bank_resolve.yaml``,
``transferrecipient.yaml``, ``transfer.yaml``, ``transfer_verify_{reference}.yaml``; schemas
``TransferBase.yaml``, ``TransferCreateResponse.yaml``, ``TransferVerifyResponse.yaml``) and the
examples of PaystackOSS/doc-code-snippets (``src/api/transfers/*/response.json``,
``src/doc/payments/webhooks/events/transfer-*.json``). The inconvenient parts are kept: the
initiate answer is ``pending`` (message "Transfer has been queued"), the outcome comes later, on
``GET /transfer/verify/<reference>`` or the ``transfer.success|failed|reversed`` webhook.

Decisions where the published material is silent (our reading):
  - A reference already used is refused with HTTP 400 "Duplicate Transfer Reference" (Paystack's
    error list: "This reference has already been used on a prior transfer",
    paystack.com/docs/api/errors/transfer); nothing new is created.
  - An account the bank does not know: HTTP 422 "Could not resolve account name. Check parameters
    or try again."; a number that is not 10 digits: HTTP 422 "Account number must be 10 digits".
  - A failed transfer carries its reason in ``gateway_response``; fees in ``fee_charged`` (kobo):
    ₦10 up to ₦5,000, ₦25 up to ₦50,000, ₦50 above (paystack.com/pricing, transfers).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re

from flask import Blueprint, jsonify, request

from webapp.sandbox import funding, paystack, transfers
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.state import TransferTxn
from webapp.sandbox.wire import drop_connection, parse_kobo, request_body, state

bp = Blueprint("paystack_transfers", __name__)
bp.before_request(paystack.check_auth)

# "a lowercase alphanumeric string with only -,_ symbols allowed", minimum 16 (TransferBase.yaml).
REFERENCE_RE = re.compile(r"^[a-z0-9_-]{16,100}$")
fail = paystack.fail


def fee_kobo(amount_kobo: int) -> int:
    return 10_00 if amount_kobo <= 5_000_00 else 25_00 if amount_kobo <= 50_000_00 else 50_00


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


@bp.get("/bank")
def list_banks():
    data = [{"name": name, "slug": name.lower().replace(" ", "-"), "code": code, "longcode": "", "gateway": None,
             "pay_with_bank": False, "supports_transfer": True, "active": True, "is_deleted": False,
             "country": "Nigeria", "currency": "NGN", "type": "nuban", "id": index + 1,
             "createdAt": "2016-07-14T10:04:29.000Z", "updatedAt": "2020-02-18T08:06:44.000Z"}
            for index, (code, name) in enumerate(transfers.BANKS)]
    return jsonify({"status": True, "message": "Banks retrieved", "data": data,
                    "meta": {"next": None, "previous": None, "perPage": 50}})


def _resolution_refused(found: transfers.Resolution):
    if found.kind == "invalid":
        return fail("Account number must be 10 digits", 422)
    if found.kind == "bank":
        return fail("Unknown bank code", 422, code="invalid_bank_code")
    return fail("Could not resolve account name. Check parameters or try again.", 422, code="invalid_bank_code")


@bp.get("/bank/resolve")
def resolve():
    number, bank = request.args.get("account_number", ""), request.args.get("bank_code", "")
    found = transfers.resolve(number, bank)
    if found.kind != "ok":
        return _resolution_refused(found)
    return jsonify({"status": True, "message": "Account number resolved",
                    "data": {"account_number": number, "account_name": found.name, "bank_id": 9}})


def _recipient_json(recipient: dict) -> dict:
    return {"active": True, "createdAt": recipient["created_at"], "currency": "NGN", "description": "",
            "domain": "test", "email": None, "id": recipient["id"], "integration": 100_123, "metadata": None,
            "name": recipient["name"], "recipient_code": recipient["recipient_code"], "type": "nuban",
            "updatedAt": recipient["created_at"], "is_deleted": False, "isDeleted": False,
            "details": {"authorization_code": None, "account_number": recipient["account_number"],
                        "account_name": recipient["account_name"], "bank_code": recipient["bank_code"],
                        "bank_name": transfers.BANK_NAMES[recipient["bank_code"]]}}


@bp.post("/transferrecipient")
def create_recipient():
    """"A duplicate account number will lead to the retrieval of the existing record"
    (paths/transferrecipient.yaml), so the code is fixed per account and bank."""
    body = request_body()
    number, bank = str(body.get("account_number") or "").strip(), str(body.get("bank_code") or "").strip()
    if body.get("type") != "nuban":
        return fail("Recipient type must be nuban for Nigerian bank accounts")
    if not str(body.get("name") or "").strip():
        return fail("Name is required")
    found = transfers.resolve(number, bank)
    if found.kind != "ok":
        return _resolution_refused(found)
    code = "RCP_" + hashlib.sha256(f"{bank}:{number}".encode()).hexdigest()[:15]
    sandbox = state()
    with sandbox.lock:
        recipient = sandbox.recipients.setdefault(code, {
            "id": sandbox.next_id(), "recipient_code": code, "name": str(body["name"]).strip(),
            "account_number": number, "bank_code": bank, "account_name": found.name,
            "created_at": _iso(sandbox.now())})
        answer = _recipient_json(recipient)
    return jsonify({"status": True, "message": "Transfer recipient created successfully", "data": answer}), 201


def transfer_json(txn: TransferTxn, sandbox) -> dict:
    """The verify/fetch shape (TransferVerifyResponse.yaml, doc-code-snippets verify/response.json)."""
    recipient = sandbox.recipients.get(txn.recipient_code or "")
    return {
        "amount": txn.amount_kobo, "createdAt": _iso(txn.created_at), "currency": "NGN", "domain": "test",
        "failures": None, "id": txn.id, "integration": 100_123, "reason": txn.narration, "reference": txn.reference,
        "source": "balance", "source_details": None, "status": txn.status, "titan_code": None,
        "transfer_code": txn.code, "request": txn.id + 1, "transferred_at": _iso(txn.settled_at),
        "updatedAt": _iso(txn.reversed_at or txn.settled_at or txn.created_at),
        "recipient": _recipient_json(recipient) if recipient else None,
        "session": {"provider": "nip" if txn.settled_at else None,
                    "id": f"1100{txn.id:026d}" if txn.settled_at else None},
        "fee_charged": txn.fee_kobo, "fees_breakdown": None, "gateway_response": txn.message or None,
    }


def _announcer(sandbox):
    """``transfer.<status>`` signed with ``x-paystack-signature`` (hex HMAC-SHA512 of the raw body) to
    the integration's one webhook URL, ``webhook_base`` + /webhooks/paystack as for every Paystack
    event a checkout does not carry (none is sent while it is not set)."""
    def announce_transfer(txn: TransferTxn, status: str):
        url = funding.webhook_url(sandbox, "paystack", None)
        if not url:
            return None
        event = {"success": "transfer.success", "failed": "transfer.failed", "reversed": "transfer.reversed"}[status]
        with sandbox.lock:
            data = transfer_json(txn, sandbox)
        data["integration"] = {"id": 100_123, "is_live": False, "business_name": "Utility Autopay Sandbox"}
        data["status"] = status
        body = json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()
        secret = SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode()
        headers = {"x-paystack-signature": hmac.new(secret, body, hashlib.sha512).hexdigest()}
        return funding.deliver(sandbox, url, body, headers, gateway="paystack", event=event,
                               reference=txn.reference)
    return announce_transfer


def render_transient(outcome: transfers.Outcome):
    if outcome.kind == "unavailable":
        return fail("An error occurred while processing your request, please try again", 503, "api_error",
                    "unknown")
    if outcome.kind == "rate_limited":
        return fail("Rate limit exceeded, please retry later", 429, "api_error", "rate_limited")
    if outcome.kind == "drop":
        return drop_connection(outcome.hold)
    return None


@bp.post("/transfer")
def initiate():
    body = request_body()
    reference = str(body.get("reference") or "").strip()
    if not REFERENCE_RE.match(reference):
        return fail("Invalid transfer reference: use at least 16 lowercase letters, digits, '-' and '_'",
                    code="invalid_reference")
    if body.get("source") != "balance":
        return fail("Source must be balance")
    amount = parse_kobo(body.get("amount"))
    if amount is None:
        return fail("Invalid amount")
    sandbox = state()
    recipient = sandbox.recipients.get(str(body.get("recipient") or ""))
    if recipient is None:
        return fail("Recipient specified is invalid", code="invalid_transfer_recipient")
    outcome = transfers.initiate(sandbox, "paystack", reference, amount_kobo=amount, fee_kobo=fee_kobo(amount),
                                 account_number=recipient["account_number"], bank_code=recipient["bank_code"],
                                 narration=str(body.get("reason") or ""), recipient_code=recipient["recipient_code"])
    if outcome.kind == "duplicate":
        return fail("Duplicate Transfer Reference", code="duplicate_reference")
    if outcome.txn is not None:
        transfers.settle_in_background(sandbox, outcome.txn, _announcer(sandbox))
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    txn = outcome.txn
    data = {"transfersessionid": [], "transfertrials": [], "domain": "test", "amount": txn.amount_kobo,
            "currency": "NGN", "reference": txn.reference, "source": "balance", "source_details": None,
            "reason": txn.narration, "status": "pending", "failures": None, "transfer_code": txn.code,
            "titan_code": None, "transferred_at": None, "id": txn.id, "integration": 100_123,
            "request": txn.id + 1, "recipient": recipient["id"], "createdAt": _iso(txn.created_at),
            "updatedAt": _iso(txn.created_at)}
    return jsonify({"status": True, "message": "Transfer has been queued", "data": data})


@bp.get("/transfer/verify/<reference>")
def verify(reference: str):
    sandbox = state()
    txn = transfers.get(sandbox, "paystack", reference)
    fault = transfers.status_fault(sandbox, txn, "paystack", reference)
    if fault is not None:
        return render_transient(fault)
    if txn is None:
        return jsonify({"status": False, "message": "Transfer not found"}), 404
    transfers.check(sandbox, txn, _announcer(sandbox))
    with sandbox.lock:
        data = transfer_json(txn, sandbox)
    return jsonify({"status": True, "message": "Transfer retrieved", "data": data})


def reverse(reference: str) -> TransferTxn:
    sandbox = state()
    return transfers.reverse(sandbox, "paystack", reference, _announcer(sandbox))
