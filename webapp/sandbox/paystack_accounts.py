"""Paystack customers and Dedicated Virtual Accounts, as the sandbox serves them under ``/paystack``,
and transfers into those accounts (the ``charge.success`` Paystack sends for one).

Wire shapes follow PaystackOSS/openapi (``paths/customer.yaml``, ``paths/dedicated_account.yaml``,
``schemas/DedicatedNubanCreateResponse.yaml``) and PaystackOSS/doc-code-snippets (test mode's
``preferred_bank`` "test-bank", whose account is at "Test Bank" named "PAYSTACK/<customer>":
``src/doc/payments/dedicated-virtual-account/events/dva-assign-success.json``; the transfer's
authorization with channel "dedicated_nuban": ``.../dedicated-virtual-account/event-snippet/index.json``).

Decisions where the published material is silent:
  - ``POST /customer`` with an email already on the integration answers that customer again.
  - ``POST /dedicated_account`` refuses (400) a customer without first_name, last_name and phone
    (the docs say a DVA needs them), an unknown bank, and a customer who already has an active
    account at that bank; ``GET /dedicated_account?customer=<id>`` lists what the customer has.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from webapp.sandbox import funding, paystack
from webapp.sandbox.state import FundingTxn, State
from webapp.sandbox.wire import request_body, state

bp = Blueprint("paystack_accounts", __name__)
bp.before_request(paystack.check_auth)

# The providers a test integration may ask for (Paystack's test mode offers "test-bank").
BANKS = {"test-bank": {"name": "Test Bank", "id": 20, "slug": "test-bank"}}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def customer_json(customer: dict) -> dict:
    return {key: customer[key] for key in ("id", "email", "first_name", "last_name", "phone", "customer_code",
                                           "risk_action", "metadata", "international_format_phone")}


def account_json(account: dict, sandbox: State) -> dict:
    customer = sandbox.customers[account["email"]]
    return {"bank": dict(BANKS[account["bank"]]), "account_name": account["account_name"],
            "account_number": account["account_number"], "assigned": True, "currency": "NGN", "metadata": None,
            "active": account["active"], "id": account["id"], "created_at": account["created_at"],
            "updated_at": account["created_at"],
            "assignment": {"integration": 100_123, "assignee_id": customer["id"], "assignee_type": "Customer",
                           "expired": False, "account_type": "PAY-WITH-TRANSFER-RECURRING",
                           "assigned_at": account["created_at"], "expired_at": None},
            "customer": customer_json(customer)}


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


@bp.post("/customer")
def create_customer():
    body = request_body()
    email = _text(body, "email").lower()
    if "@" not in email:
        return paystack.fail("Invalid Email Address Passed")
    sandbox = state()
    with sandbox.lock:
        customer = sandbox.customers.get(email)
        if customer is None:
            customer = {"id": sandbox.next_id(), "email": email, "first_name": None, "last_name": None,
                        "phone": None, "customer_code": paystack.customer_code(email), "risk_action": "default",
                        "metadata": {}, "international_format_phone": None, "createdAt": _iso(datetime.now(UTC))}
            sandbox.customers[email] = customer
        for key in ("first_name", "last_name", "phone"):
            if _text(body, key):
                customer[key] = _text(body, key)
        answer = {**customer_json(customer), "transactions": [], "subscriptions": [], "authorizations": [],
                  "integration": 100_123, "domain": "test", "identified": False, "identifications": None,
                  "createdAt": customer["createdAt"], "updatedAt": _iso(datetime.now(UTC))}
    return jsonify({"status": True, "message": "Customer created", "data": answer})


def _find_customer(sandbox: State, key: str) -> dict | None:
    """A customer by code (CUS_...) or numeric id, as ``customer`` may be either."""
    for customer in sandbox.customers.values():
        if key in (customer["customer_code"], str(customer["id"])):
            return customer
    return None


def _account_number(sandbox: State) -> str:
    while True:
        number = "99" + "".join(secrets.choice("0123456789") for _ in range(8))
        if number not in sandbox.dedicated_accounts:
            return number


@bp.post("/dedicated_account")
def create_dedicated_account():
    body = request_body()
    bank = _text(body, "preferred_bank")
    sandbox = state()
    with sandbox.lock:
        customer = _find_customer(sandbox, _text(body, "customer"))
        if customer is None:
            return paystack.fail("Customer not found", 404, code="customer_not_found")
        if bank not in BANKS:
            return paystack.fail("Invalid preferred bank. Use the list providers endpoint to see available banks")
        for key in ("first_name", "last_name", "phone"):
            if _text(body, key):
                customer[key] = _text(body, key)
        if not (customer["first_name"] and customer["last_name"] and customer["phone"]):
            return paystack.fail("Customer first name, last name and phone are required to create an account")
        if any(a["email"] == customer["email"] and a["bank"] == bank and a["active"]
               for a in sandbox.dedicated_accounts.values()):
            return paystack.fail("Customer already has an active dedicated account with this bank")
        number = _account_number(sandbox)
        account = {"id": sandbox.next_id(), "email": customer["email"], "bank": bank, "account_number": number,
                   "account_name": f"PAYSTACK/{customer['first_name']} {customer['last_name']}", "active": True,
                   "created_at": _iso(datetime.now(UTC))}
        sandbox.dedicated_accounts[number] = account
        answer = account_json(account, sandbox)
    return jsonify({"status": True, "message": "NUBAN successfully created", "data": answer})


@bp.get("/dedicated_account")
def list_dedicated_accounts():
    sandbox = state()
    wanted_customer = request.args.get("customer")
    active = request.args.get("active")
    with sandbox.lock:
        accounts = [a for a in sandbox.dedicated_accounts.values()
                    if (wanted_customer is None or str(sandbox.customers[a["email"]]["id"]) == wanted_customer)
                    and (active is None or a["active"] == (active.lower() == "true"))]
        data = [account_json(a, sandbox) for a in accounts]
    return jsonify({"status": True, "message": "Managed accounts successfully retrieved", "data": data,
                    "meta": {"total": len(data), "skipped": 0, "perPage": 50, "page": 1, "pageCount": 1}})


class UnknownAccount(LookupError):
    """No dedicated account has this number."""


def transfer(sandbox: State, account_number: str, amount_kobo: int, sender_name: str = "ADA TEST SENDER"
             ) -> FundingTxn:
    """Record a successful bank transfer of ``amount_kobo`` into a dedicated account."""
    with sandbox.lock:
        account = sandbox.dedicated_accounts.get(account_number)
        if account is None:
            raise UnknownAccount(account_number)
        customer = customer_json(sandbox.customers[account["email"]])
        reference = f"{sandbox.next_id()}{secrets.token_hex(6)}"
        txn = funding.create(sandbox, "paystack", reference, amount_kobo, customer["email"], kind="transfer",
                             phone=customer["phone"])
        digest = hashlib.sha256(f"auth:{reference}".encode()).hexdigest()
        txn.customer = customer
        txn.receiver = {"account_number": account_number, "bank": BANKS[account["bank"]]["name"]}
        txn.authorization = {
            "authorization_code": f"AUTH_{digest[:10]}", "bin": "008XXX", "last4": "X553", "exp_month": "12",
            "exp_year": "2030", "channel": "dedicated_nuban", "card_type": "transfer", "bank": "Test Bank",
            "country_code": "NG", "brand": "Managed Account", "reusable": False, "signature": None,
            "sender_bank": "Test Bank", "sender_bank_account_number": "XXXXXX4553", "sender_country": "NG",
            "sender_name": sender_name, "narration": f"NIP: {sender_name} -{account_number}",
            "receiver_bank_account_number": account_number, "receiver_bank": BANKS[account["bank"]]["name"]}
        txn.status = "success"
        txn.paid_at = datetime.now(UTC)
    return txn


def deliver_transfer_webhook(sandbox: State, txn: FundingTxn, fallback_origin: str | None,
                             claimed_amount_kobo: int | None = None) -> dict | None:
    """POST the transfer's signed ``charge.success`` to the app; ``claimed_amount_kobo`` makes the
    body claim another amount than the transaction's (the record ``verify`` answers stays true)."""
    url = funding.webhook_url(sandbox, "paystack", fallback_origin)
    if not url:
        return None
    body, headers = paystack.signed_webhook(txn, amount_kobo=claimed_amount_kobo)
    return funding.deliver(sandbox, url, body, headers, gateway="paystack", event="charge.success",
                           reference=txn.reference)
