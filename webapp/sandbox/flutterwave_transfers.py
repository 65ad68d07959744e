"""Flutterwave v3 Transfers as the sandbox serves them under ``/flutterwave/v3``; amounts in naira.

Endpoints as the official Flutterwave/Node-v3 SDK calls them: ``GET /banks/NG``
(services/banks/rave.banks-country.js), ``POST /accounts/resolve`` {account_number, account_bank}
(services/misc/rave.resolve.account.js), ``POST /transfers`` (services/transfers/rave.initiate.js,
body schema ``transferSchema`` in services/schema/create.js) and ``GET /transfers/<id>`` by
Flutterwave's numeric id (services/transfers/rave.fetch.js: "the numeric ID of the transfer ...
returned in the call to create a transfer as data.id"). Answer shapes from documentation/
transfers.md and misc.md: the create answer says "Transfer Queued Successfully" with status
``NEW``; failures read ``FAILED`` with ``complete_message`` "DISBURSE FAILED: ..."; fees are naira
and may have three decimals (26.875). The ``transfer.completed`` webhook (``"event.type":
"Transfer"``, data as in the v3 webhooks page's "Successful Transfers" sample) goes to the
transfer's ``callback_url`` with the ``verif-hash`` header.

Decisions where the published material is silent (our reading):
  - v3 documents no lookup of a transfer by our reference, so none is served.
  - A reference already used: HTTP 400 error envelope "Duplicate reference: a transfer with
    reference ... already exists"; nothing new is created.
  - A reversal shows status ``REVERSED`` (the word of the v4 reference's
    ``reversal.reconciliation_status``; v3 names none) and is announced as another
    ``transfer.completed``.
  - An account the bank does not know: HTTP 400 "Could not resolve account name: the account
    number is invalid for this bank"; a number that is not 10 digits: HTTP 400
    "account_number must be 10 digits".
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from flask import Blueprint

from webapp.sandbox import funding, transfers
from webapp.sandbox.flutterwave import check_auth, error, ok, render_transient
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.state import TransferTxn
from webapp.sandbox.wire import json_bytes, naira, parse_naira, request_body, state

bp = Blueprint("flutterwave_transfers", __name__)
bp.before_request(check_auth)

STATUS = {"pending": "NEW", "success": "SUCCESSFUL", "failed": "FAILED", "reversed": "REVERSED"}
COMPLETE_MESSAGE = {"pending": "", "success": "Transaction was successful"}


def fee_text(amount_kobo: int) -> str:
    """₦10.75 up to ₦5,000, ₦26.875 up to ₦50,000, ₦53.75 above (the fees in Node-v3's samples)."""
    return "10.75" if amount_kobo <= 5_000_00 else "26.875" if amount_kobo <= 50_000_00 else "53.75"


def fee_kobo(amount_kobo: int) -> int:
    return int((Decimal(fee_text(amount_kobo)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


@bp.get("/banks/<country>")
def list_banks(country: str):
    if country.upper() != "NG":
        return ok("Banks fetched successfully", [])
    return ok("Banks fetched successfully",
              [{"id": 130 + index, "code": code, "name": name} for index, (code, name) in enumerate(transfers.BANKS)])


def _resolution_refused(found: transfers.Resolution):
    if found.kind == "invalid":
        return error("account_number must be 10 digits")
    if found.kind == "bank":
        return error("Invalid bank code: account_bank is not a known bank")
    return error("Could not resolve account name: the account number is invalid for this bank")


@bp.post("/accounts/resolve")
def resolve():
    body = request_body()
    number, bank = str(body.get("account_number") or "").strip(), str(body.get("account_bank") or "").strip()
    found = transfers.resolve(number, bank)
    if found.kind != "ok":
        return _resolution_refused(found)
    return ok("Account details fetched", {"account_number": number, "account_name": found.name})


def transfer_json(txn: TransferTxn) -> dict:
    return {
        "id": txn.id, "account_number": txn.account_number, "bank_code": txn.bank_code,
        "full_name": txn.account_name, "created_at": _iso(txn.created_at), "currency": "NGN",
        "debit_currency": "NGN", "amount": naira(txn.amount_kobo), "fee": Decimal(fee_text(txn.amount_kobo)),
        "status": STATUS[txn.status], "reference": txn.reference, "meta": None, "narration": txn.narration,
        "approver": None, "complete_message": COMPLETE_MESSAGE.get(txn.status, f"DISBURSE FAILED: {txn.message}"
                                                                  if txn.status == "failed" else txn.message),
        "requires_approval": 0, "is_approved": 1, "bank_name": transfers.BANK_NAMES[txn.bank_code].upper(),
    }


def _announcer(sandbox):
    """``transfer.completed`` with ``verif-hash`` to the transfer's callback_url (else the
    dashboard's webhook URL, ``webhook_base`` + /webhooks/flutterwave, when set)."""
    def announce_transfer(txn: TransferTxn, status: str):
        url = txn.callback_url or funding.webhook_url(sandbox, "flutterwave", None)
        if not url:
            return None
        with sandbox.lock:
            data = transfer_json(txn)
        data["status"] = STATUS[status]
        data["fullname"] = data.pop("full_name")
        body = json_bytes({"event": "transfer.completed", "event.type": "Transfer", "data": data})
        headers = {"verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}
        return funding.deliver(sandbox, url, body, headers, gateway="flutterwave", event="transfer.completed",
                               reference=txn.reference)
    return announce_transfer


@bp.post("/transfers")
def initiate():
    body = request_body()
    reference = str(body.get("reference") or "").strip()
    number, bank = str(body.get("account_number") or "").strip(), str(body.get("account_bank") or "").strip()
    amount = parse_naira(body.get("amount"))
    if not reference or len(reference) > 100:
        return error("reference is required and at most 100 characters")
    if amount is None:
        return error("amount must be a positive amount in naira")
    if str(body.get("currency") or "NGN").upper() != "NGN":
        return error("currency must be NGN for transfers to Nigerian bank accounts")
    found = transfers.resolve(number, bank)
    if found.kind != "ok":
        return _resolution_refused(found)
    sandbox = state()
    outcome = transfers.initiate(sandbox, "flutterwave", reference, amount_kobo=amount, fee_kobo=fee_kobo(amount),
                                 account_number=number, bank_code=bank, narration=str(body.get("narration") or ""),
                                 callback_url=str(body.get("callback_url") or "") or None)
    if outcome.kind == "duplicate":
        return error(f"Duplicate reference: a transfer with reference {reference} already exists")
    answer = None
    if outcome.txn is not None:
        with sandbox.lock:
            answer = transfer_json(outcome.txn)  # as created: it settles only after this answer is built
        transfers.settle_in_background(sandbox, outcome.txn, _announcer(sandbox))
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    return ok("Transfer Queued Successfully", answer)


@bp.get("/transfers/<int:transfer_id>")
def fetch(transfer_id: int):
    sandbox = state()
    txn = transfers.get_by_id(sandbox, "flutterwave", transfer_id)
    fault = transfers.status_fault(sandbox, txn, "flutterwave", txn.reference if txn else str(transfer_id))
    if fault is not None:
        return render_transient(fault)
    if txn is None:
        return error("Transfer not found", 404)
    transfers.check(sandbox, txn, _announcer(sandbox))
    with sandbox.lock:
        data = transfer_json(txn)
    return ok("Transfer fetched", data)


def reverse(reference: str) -> TransferTxn:
    sandbox = state()
    return transfers.reverse(sandbox, "flutterwave", reference, _announcer(sandbox))

