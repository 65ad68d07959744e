"""Flutterwave v3 Bills API, as the sandbox serves it under ``/flutterwave/v3``.

Envelope: ``{"status": "success"|"error", "message": str, "data": ...}``; amounts in naira.
Shapes follow Flutterwave's published material, inconvenient parts included:
- the pay answer carries ``code`` "200", Flutterwave's ``tx_ref`` and ``flw_ref``, our ``reference``
  and ``recharge_token`` (null when the token comes later), and no ``status``;
- ``GET /bills/{tx_ref}`` is keyed by Flutterwave's tx_ref ("This is the tx_ref of the bill
  transaction", developer.flutterwave.com/v3.0.0/reference/get-status-of-a-bill-payment); asked by
  our reference it answers 404;
- a completed bill's status answer has no ``status`` and no ``code`` in ``data`` (the official
  Node-v3 SDK's documentation/billPayments.md sample); the token, when there is one, is in ``extra``.
  Bills not completed carry an explicit ``status`` ("pending", "failed");
- the bill-status webhook ``singlebillpayment.status`` goes to the payment's ``callback_url`` with
  our reference as ``data.customer_reference`` and the ``verif-hash`` header (the docs' webhook
  "Bill Payment Example").
"""
from __future__ import annotations

import threading
import time
from datetime import date, timedelta

from flask import Blueprint, jsonify, request

from webapp.sandbox import bills, catalogue, customers, funding
from webapp.sandbox.catalogue import Product
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.wire import (
    bearer_ok,
    drop_connection,
    json_bytes,
    naira,
    naira_display,
    parse_naira,
    request_body,
    state,
)

bp = Blueprint("flutterwave_bills", __name__)


def ok(message: str, data, status: int = 200):
    return jsonify({"status": "success", "message": message, "data": data}), status


def error(message: str, status: int = 400):
    return jsonify({"status": "error", "message": message, "data": None}), status


def check_auth():
    """Shared by the bills and funding blueprints (registered as their before_request)."""
    if not bearer_ok(SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_KEY"]):
        return error("Invalid authorization key", 401)
    return None


bp.before_request(check_auth)


def item_json(p: Product) -> dict:
    return {
        "id": p.flw_id, "biller_code": p.flw_biller_code, "name": p.name, "date_added": "2024-01-15T09:00:00Z",
        "country": "NG", "is_airtime": False, "biller_name": p.biller_name, "item_code": p.flw_item_code,
        "short_name": p.name, "fee": naira(p.fee_kobo), "commission_on_fee": False, "label_name": p.label_name,
        "amount": naira(p.fixed_kobo), "validity_period": "30" if p.fixed_kobo else None,
        "group_name": p.biller_name, "category_name": catalogue.FLW_CATEGORIES[
            catalogue.FLW_CATEGORY_BY_TYPE[p.utility_type]]["name"],
        "minimum": naira(p.min_kobo), "maximum": naira(p.max_kobo),
    }


FILTERS = {"power": {catalogue.ELECTRICITY}, "cables": {catalogue.CABLE_TV}, "internet": {catalogue.INTERNET},
           "water": {catalogue.WATER}}


def _country_ok() -> bool:
    return request.args.get("country", "NG").upper() == "NG"


@bp.get("/bill-categories")
def bill_categories():
    wanted: set[str] = set()
    for name, types in FILTERS.items():
        if request.args.get(name) in ("1", "true", "True"):
            wanted |= types
    products = [p for p in catalogue.PRODUCTS if (not wanted or p.utility_type in wanted)]
    biller_code = request.args.get("biller_code")
    if biller_code:
        products = [p for p in products if p.flw_biller_code == biller_code]
    data = [item_json(p) for p in products] if _country_ok() else []
    return ok("Bill categories retrieved", data)


@bp.get("/top-bill-categories")
def top_bill_categories():
    data = [{"id": c["id"], "name": c["name"], "code": code, "description": c["description"], "country_code": "NG"}
            for code, c in catalogue.FLW_CATEGORIES.items()] if _country_ok() else []
    return ok("Bill categories retrieved", data)


@bp.get("/bills/<category>/billers")
def billers(category: str):
    if category not in catalogue.FLW_CATEGORIES:
        return error(f"Unknown bill category {category}", 404)
    data = []
    for code, products in catalogue.flw_billers().items():
        first = products[0]
        if catalogue.FLW_CATEGORY_BY_TYPE[first.utility_type] == category and _country_ok():
            data.append({"id": first.flw_id // 10, "name": first.biller_name, "logo": None, "description":
                         first.biller_name, "short_name": first.biller_name, "biller_code": code,
                         "country_code": "NG"})
    return ok("Billers retrieved", data)


@bp.get("/billers/<biller_code>/items")
def biller_items(biller_code: str):
    products = catalogue.flw_billers().get(biller_code)
    if not products:
        return error(f"Invalid biller code {biller_code}", 404)
    return ok("Biller items retrieved", [item_json(p) for p in products])


@bp.get("/bill-items/<item_code>/validate")
def validate(item_code: str):
    product = catalogue.by_flw_item(item_code)
    biller_code = request.args.get("code")
    if product is None or (biller_code and biller_code != product.flw_biller_code):
        return error("Invalid item code or biller code")
    number = request.args.get("customer", "")
    customer = bills.validate(product, number)
    if not customer.is_valid:
        reason = "customer not found" if customer.scenario == "not_found" else "invalid customer number"
        return error(f"Invalid customer id: {reason}")
    data = {
        "response_code": "00", "response_message": "Successful", "name": customer.name,
        "address": customer.address, "biller_code": product.flw_biller_code, "customer": customer.number,
        "product_code": product.flw_item_code, "email": None, "fee": naira(product.fee_kobo),
        "minimum": naira(product.min_kobo), "maximum": naira(product.max_kobo),
        "meter_type": (customer.meter_type or product.meter_type or "").upper() or None,
    }
    if customer.outstanding_kobo:
        data["outstanding"] = naira(customer.outstanding_kobo)
        data["amount"] = naira(customer.outstanding_kobo)
    return ok("Item validated successfully", data)


def pay_json(txn) -> dict:
    """The pay answer: PHP-v3 src/Service/Bill.php posts to billers/{biller}/items/{item}/payment;
    the fields are those of the published answer (code, tx_ref, reference, recharge_token, fee)."""
    return {
        "phone_number": txn.phone, "amount": naira(txn.amount_kobo), "network": txn.product.biller_name,
        "code": "200", "tx_ref": txn.provider_ref, "flw_ref": txn.flw_ref, "reference": txn.reference,
        "batch_reference": None, "recharge_token": customers.group_token(txn.token) if txn.token else None,
        "fee": naira(txn.fee_kobo),
    }


def status_json(txn) -> dict:
    """The status answer in the published shape; ``status`` only for a bill that is not completed."""
    data = {
        "currency": "NGN", "customer_id": txn.customer, "frequency": "One Time",
        "amount": f"{txn.amount_kobo // 100}.{txn.amount_kobo % 100:02d}00", "product": txn.product.biller_name,
        "product_name": txn.product.name, "commission": 0,
        "transaction_date": txn.created_at.isoformat().replace("+00:00", "Z"), "country": "NG",
        "tx_ref": txn.provider_ref, "customer_reference": txn.reference,
        "extra": f"Token : {customers.group_token(txn.token)}" if txn.token else None,
        "product_details": f"FLY-API-NG-{txn.product.flw_item_code}",
    }
    if txn.status != "successful":
        data["status"] = txn.status
        data["message"] = txn.message
    return data


def listing_json(txn) -> dict:
    return {"customer_reference": txn.reference, "tx_ref": txn.provider_ref, "flw_ref": txn.flw_ref,
            "customer_id": txn.customer, "amount": naira(txn.amount_kobo), "fee": naira(txn.fee_kobo),
            "currency": "NGN", "product": txn.product.biller_name, "product_name": txn.product.name,
            "status": {"successful": "success", "pending": "pending", "failed": "fail"}[txn.status],
            "transaction_date": txn.created_at.isoformat().replace("+00:00", "Z")}


def webhook_event(txn) -> dict:
    """``singlebillpayment.status`` as the docs' webhook "Bill Payment Example" shows it."""
    return {"event": "singlebillpayment.status", "event.type": "SingleBillPayment", "data": {
        "customer": txn.customer, "amount": naira(txn.amount_kobo), "network": txn.product.biller_name,
        "tx_ref": txn.provider_ref, "flw_ref": txn.flw_ref, "batch_reference": None,
        "customer_reference": txn.reference, "status": "success" if txn.status == "successful" else "fail",
        "message": "Bill Payment was completed successfully" if txn.status == "successful" else txn.message,
        "reference": None}}


def send_bill_webhook(sandbox, txn) -> None:
    """Deliver the bill's status event to its callback_url, after a short delay, in the background."""
    if not (txn.callback_url and sandbox.knobs.bill_webhooks) or txn.status == "pending":
        return
    body = json_bytes(webhook_event(txn))
    headers = {"Content-Type": "application/json", "verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}
    delay, url = sandbox.knobs.bill_webhook_delay, txn.callback_url

    def later():
        time.sleep(delay)
        funding.deliver(sandbox, url, body, headers, gateway="flutterwave", event="singlebillpayment.status",
                        reference=txn.reference)

    threading.Thread(target=later, daemon=True, name=f"bill-webhook-{txn.reference}").start()


def _reject(outcome: bills.Outcome, product: Product):
    if outcome.reason == "amount_below":
        bound = f"at least {naira_display(product.min_kobo)}"
        return error(f"Amount must be {bound} for {product.name}" if not product.fixed_kobo
                     else f"Amount must be {naira_display(product.fixed_kobo)} for {product.name}")
    if outcome.reason == "amount_above":
        return error(f"Amount must be at most {naira_display(product.max_kobo)} for {product.name}"
                     if not product.fixed_kobo else
                     f"Amount must be {naira_display(product.fixed_kobo)} for {product.name}")
    if outcome.reason == "customer":
        return error("Invalid customer id: customer not found")
    if outcome.reason == "low_balance":
        return error("Insufficient wallet balance to complete this bill payment")
    return error("Bill payment rejected")


def render_transient(outcome: bills.Outcome):
    """503/429/dropped answers shared by pay and status; None for other outcomes."""
    if outcome.kind in ("unavailable", "not_processed"):
        return error("Service temporarily unavailable, please retry", 503)
    if outcome.kind == "rate_limited":
        return error("Too many requests, please slow down", 429)
    if outcome.kind == "drop":
        return drop_connection(outcome.hold)
    return None


def _pay(product: Product | None, body: dict):
    if product is None:
        return error("Invalid biller code or item code")
    reference = str(body.get("reference") or "").strip()
    number = body.get("customer_id", body.get("customer"))
    if not reference:
        return error("reference is required")
    if not number:
        return error("customer_id is required")
    amount = body.get("amount")
    amount_kobo = product.fixed_kobo if product.fixed_kobo and amount in (None, 0, "0", "") else parse_naira(amount)
    if amount_kobo is None:
        return error("amount must be a positive amount in naira")
    sandbox = state()
    outcome = bills.purchase(sandbox, "flutterwave", reference, product, number, amount_kobo,
                             phone=body.get("phone") or body.get("phone_number"),
                             callback_url=str(body.get("callback_url") or "") or None)
    if outcome.txn is not None and outcome.kind != "duplicate":
        send_bill_webhook(sandbox, outcome.txn)
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    if outcome.kind == "duplicate":
        return error(f"Duplicate reference: a bill payment with reference {reference} already exists", 409)
    if outcome.kind == "rejected":
        return _reject(outcome, product)
    if outcome.kind == "failed":
        return error(f"Bill payment failed: {outcome.txn.message}")
    message = "Bill payment successful" if outcome.kind == "successful" else "Bill payment is pending"
    return ok(message, pay_json(outcome.txn))


@bp.post("/billers/<biller_code>/items/<item_code>/payment")
def pay(biller_code: str, item_code: str):
    product = catalogue.by_flw_item(item_code)
    if product is not None and product.flw_biller_code != biller_code:
        product = None
    return _pay(product, request_body())


@bp.post("/bills")
def pay_older_form():
    """The older ``POST /bills`` form: the item is named by item_code/biller_code or by ``type``."""
    body = request_body()
    product = catalogue.by_flw_item(str(body.get("item_code") or ""))
    kind = str(body.get("type") or body.get("biller_name") or "").strip().lower()
    if product is None and kind:
        product = next((p for p in catalogue.PRODUCTS if kind in (p.name.lower(), p.flw_item_code.lower())), None)
    return _pay(product, body)


@bp.get("/bills/<reference>")
def bill_status(reference: str):
    sandbox = state()
    before = None
    txn = sandbox.bills.get(("flutterwave", bills.resolve_reference(sandbox, "flutterwave", reference) or ""))
    if txn is not None:
        before = (txn.status, txn.token)
    outcome = bills.query(sandbox, "flutterwave", reference, own_refs_only=True)
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    if outcome.kind == "not_found":
        return error("Transaction not found: no bill payment exists for this reference", 404)
    outcome_status = (outcome.txn.status, outcome.txn.token)
    if before is not None and before != outcome_status:
        send_bill_webhook(sandbox, outcome.txn)  # it resolved (or its token came) just now
    return ok("Bill status fetch successful", status_json(outcome.txn))


PAGE_SIZE = 50


@bp.get("/bills")
def bill_listing():
    """``GET /bills?from=&to=&page=`` (Node-v3 Bills.fetch_bills; dates YYYY-MM-DD or ISO times).

    The published sample shows only ``summary``, ``total`` and ``total_pages``; with the
    ``flw_listing_items`` knob (default on) each bill of the period is listed too, under
    ``transactions``, with ``page``/``total_pages`` paging.
    """
    try:
        start = date.fromisoformat(str(request.args.get("from", ""))[:10])
        end = date.fromisoformat(str(request.args.get("to", ""))[:10])
        page = int(request.args.get("page", "1"))
    except ValueError:
        return error("from and to must be dates (YYYY-MM-DD) and page a number")
    if end < start or end - start > timedelta(days=31) or page < 1:
        return error("from must not be after to, the period at most 31 days and page at least 1")
    sandbox = state()
    rows = bills.listing(sandbox, "flutterwave", start, end)
    done = [t for t in rows if t.status == "successful"]
    total_pages = max(1, -(-len(rows) // PAGE_SIZE))
    data = {"summary": [{"currency": "NGN", "sum_bills": naira(sum(t.amount_kobo for t in done)),
                         "sum_commission": 0, "count_bills": len(done)}],
            "total": len(rows), "total_pages": total_pages, "page": page, "reference": None}
    if sandbox.knobs.flw_listing_items:
        data["transactions"] = [listing_json(t) for t in rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]]
    return ok("bills retrieval successful", data)
