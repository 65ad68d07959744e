"""Flutterwave v3 Bills API, as the sandbox serves it under ``/flutterwave/v3``.

Envelope: ``{"status": "success"|"error", "message": str, "data": ...}``; amounts in naira.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import bills, catalogue, customers
from .catalogue import Product
from .keys import SANDBOX_CREDENTIALS
from .wire import bearer_ok, drop_connection, naira, naira_display, parse_naira, request_body, state

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


def bill_json(txn) -> dict:
    """Fields of a bill payment, shared by the pay and the status answers."""
    grouped = customers.group_token(txn.token) if txn.token else None
    return {
        "customer_reference": txn.reference, "reference": txn.reference, "tx_ref": txn.provider_ref,
        "flw_ref": txn.flw_ref, "customer_id": txn.customer, "phone_number": txn.phone,
        "amount": naira(txn.amount_kobo), "fee": naira(txn.fee_kobo), "currency": "NGN", "country": "NG",
        "network": txn.product.biller_name, "product": txn.product.biller_name, "product_name": txn.product.name,
        "biller_code": txn.product.flw_biller_code, "item_code": txn.product.flw_item_code,
        "status": txn.status, "message": txn.message, "code": "200",
        "recharge_token": grouped, "token": txn.token, "units": f"{txn.units} kWh" if txn.units else None,
        "extra": f"Token : {grouped}" if grouped else None,
        "transaction_date": txn.created_at.isoformat().replace("+00:00", "Z"), "frequency": "One Time",
        "batch_reference": None,
    }


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
    outcome = bills.purchase(state(), "flutterwave", reference, product, number, amount_kobo,
                             phone=body.get("phone") or body.get("phone_number"))
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    if outcome.kind == "duplicate":
        return error(f"Duplicate reference: a bill payment with reference {reference} already exists", 409)
    if outcome.kind == "rejected":
        return _reject(outcome, product)
    if outcome.kind == "failed":
        return error(f"Bill payment failed: {outcome.txn.message}")
    message = "Bill payment successful" if outcome.kind == "successful" else "Bill payment is being processed"
    return ok(message, bill_json(outcome.txn))


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
    outcome = bills.query(state(), "flutterwave", reference)
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    if outcome.kind == "not_found":
        return error("Transaction not found: no bill payment exists for this reference", 404)
    return ok("Bill status fetch successful", bill_json(outcome.txn))
