"""VTpass API, as the sandbox serves it under ``/vtpass/api``.

Answers carry a ``code`` ("000", "099", "016", ...) and ``response_description``; amounts in naira.
GET calls authenticate with ``api-key`` + ``public-key`` headers, POST calls with ``api-key`` + ``secret-key``.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, jsonify, request

from webapp.sandbox import bills, catalogue, customers
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.wire import LAGOS, drop_connection, naira, naira_text, parse_naira, request_body, same_secret, state

bp = Blueprint("vtpass", __name__)

DESCRIPTIONS = {
    "000": "TRANSACTION SUCCESSFUL", "099": "TRANSACTION IS PROCESSING", "016": "TRANSACTION FAILED",
    "010": "VARIATION CODE DOES NOT EXIST", "011": "INVALID ARGUMENTS", "012": "PRODUCT DOES NOT EXIST",
    "013": "BELOW MINIMUM AMOUNT ALLOWED", "014": "REQUEST ID ALREADY EXIST", "015": "INVALID REQUEST ID",
    "017": "ABOVE MAXIMUM AMOUNT ALLOWED", "018": "LOW WALLET BALANCE", "019": "LIKELY DUPLICATE TRANSACTION",
    "083": "SYSTEM ERROR", "085": "IMPROPER REQUEST ID: DOES NOT CONTAIN DATE", "087": "INVALID CREDENTIALS",
    "091": "TRANSACTION NOT PROCESSED",
}


def answer(code: str, errors: str | None = None, status: int = 200, **extra):
    body = {"code": code, "response_description": DESCRIPTIONS[code], **extra}
    if errors:
        body["content"] = {"errors": errors}
    return jsonify(body), status


@bp.before_request
def check_auth():
    creds = SANDBOX_CREDENTIALS
    second = ("public-key", creds["VTPASS_PUBLIC_KEY"]) if request.method == "GET" else \
        ("secret-key", creds["VTPASS_SECRET_KEY"])
    if not (same_secret(request.headers.get("api-key"), creds["VTPASS_API_KEY"])
            and same_secret(request.headers.get(second[0]), second[1])):
        return answer("087", "Invalid or missing api-key/public-key/secret-key headers", 401)
    return None


def request_id_problem(request_id: str) -> str | None:
    """The request_id rule: first 12 characters are the Africa/Lagos time as YYYYMMDDHHII."""
    head, suffix = request_id[:12], request_id[12:]
    if len(head) < 12 or not head.isdigit():
        return "request_id must start with the current date and time (YYYYMMDDHHII, Africa/Lagos)"
    try:
        stamp = datetime.strptime(head, "%Y%m%d%H%M").replace(tzinfo=LAGOS)
    except ValueError:
        return "request_id does not start with a valid date and time (YYYYMMDDHHII)"
    if suffix and not all(c.isascii() and (c.isalnum() or c in "-_") for c in suffix):
        return "request_id may only continue with letters and digits"
    sandbox = state()
    now = sandbox.now()
    if sandbox.knobs.request_id_today_only:
        # "FIRST 12 CHARACTERS MUST COMPRISE OF TODAY'S DATE" (vtpass.com/documentation/buying-services);
        # code 085 "DATE NOT TODAY'S DATE" (vtpass.com/documentation/response-codes).
        if stamp.date() != now.astimezone(LAGOS).date():
            return "DATE NOT TODAY'S DATE - FIRST 8 CHARACTERS MUST BE TODAY'S DATE IN THIS FORMAT: YYYYMMDD"
        return None
    window = sandbox.knobs.request_id_window_hours
    if window is not None and abs(now - stamp) > timedelta(hours=window):
        return f"request_id date is more than {window:g} hours away from the current Africa/Lagos time"
    return None


def variation_json(p) -> dict:
    return {"variation_code": p.vt_variation_code, "name": p.name, "variation_amount": naira_text(p.fixed_kobo),
            "fixedPrice": "Yes" if p.fixed_kobo else "No", "minimum_amount": naira_text(p.min_kobo),
            "maximum_amount": naira_text(p.max_kobo)}


def service_json(service_id: str, products: list) -> dict:
    first = products[0]
    return {"serviceID": service_id, "name": first.vt_service_name,
            "minimium_amount": naira_text(min(p.min_kobo for p in products)),
            "minimum_amount": naira_text(min(p.min_kobo for p in products)),
            "maximum_amount": naira_text(max(p.max_kobo for p in products)),
            "convinience_fee": f"N{naira_text(first.fee_kobo)}",
            "product_type": "fix" if all(p.fixed_kobo for p in products) else "flexible", "image": None,
            "identifier": catalogue.VTPASS_IDENTIFIER_BY_TYPE[first.utility_type]}


@bp.get("/service-categories")
def service_categories():
    content = [{"identifier": ident, "name": name} for ident, (name, _t) in catalogue.VTPASS_IDENTIFIERS.items()]
    return jsonify({"response_description": "000", "content": content})


@bp.get("/services")
def services():
    identifier = request.args.get("identifier")
    content = [service_json(sid, products) for sid, products in catalogue.vt_services().items()
               if identifier in (None, "", catalogue.VTPASS_IDENTIFIER_BY_TYPE[products[0].utility_type])]
    return jsonify({"response_description": "000", "content": content})


@bp.get("/service-variations")
def service_variations():
    service_id = request.args.get("serviceID", "")
    products = catalogue.vt_services().get(service_id)
    if not products:
        return answer("012", f"Unknown serviceID {service_id!r}")
    variations = [variation_json(p) for p in products]
    content = {"ServiceName": products[0].vt_service_name, "serviceID": service_id,
               "convinience_fee": f"N{naira_text(products[0].fee_kobo)}", "variations": variations,
               "varations": variations}
    return jsonify({"response_description": "000", "content": content})


@bp.post("/merchant-verify")
def merchant_verify():
    body = request_body()
    service_id, number = str(body.get("serviceID") or ""), customers.normalise(body.get("billersCode"))
    meter_type = str(body.get("type") or "").lower()
    if not service_id or not number:
        return answer("011", "serviceID and billersCode are required")
    products = catalogue.vt_services().get(service_id)
    if not products:
        return answer("012", f"Unknown serviceID {service_id!r}")
    product = catalogue.by_vt_variation(service_id, meter_type) or products[0]
    customer = bills.validate(product, number)
    if not customer.is_valid:
        return jsonify({"code": "000", "content": {
            "error": f"This number is not a valid {product.biller_name} customer number. Please check and try again",
            "WrongBillersCode": True}})
    content = {
        "Customer_Name": customer.name, "Address": customer.address, "Customer_Number": customer.number,
        "Min_Purchase_Amount": naira_text(product.min_kobo), "Minimum_Amount": naira_text(product.min_kobo),
        "Max_Purchase_Amount": naira_text(product.max_kobo), "Can_Vend": "yes", "WrongBillersCode": False,
        "Status": "ACTIVE",
    }
    if product.utility_type == catalogue.ELECTRICITY:
        content.update({"Meter_Number": customer.number, "Business_Unit": product.biller_name.upper(),
                        "Meter_Type": (customer.meter_type or meter_type or product.meter_type or "").upper(),
                        "Customer_Account_Type": "NMD"})
    # What the account owes, in the one field VTpass documents: its IKEDC "Verify Meter Number"
    # example answers ``"Customer_Arrears": ""`` for a meter that owes nothing.
    content["Customer_Arrears"] = naira_text(customer.outstanding_kobo) if customer.outstanding_kobo else ""
    return jsonify({"code": "000", "content": content})


def txn_json(txn, code: str, description: str | None = None) -> dict:
    p = txn.product
    status = {"successful": "delivered", "pending": "pending", "failed": "failed"}[txn.status]
    body = {
        "code": code, "response_description": description or DESCRIPTIONS[code], "requestId": txn.reference,
        "amount": naira_text(txn.amount_kobo),
        "transaction_date": {"date": txn.created_at.astimezone(LAGOS).strftime("%Y-%m-%d %H:%M:%S.000000"),
                             "timezone_type": 3, "timezone": "Africa/Lagos"},
        "content": {"transactions": {
            "status": status, "product_name": p.vt_service_name, "unique_element": txn.customer,
            "unit_price": naira(txn.amount_kobo), "quantity": 1, "service_verification": None, "channel": "api",
            "commission": 0, "total_amount": naira(txn.amount_kobo + txn.fee_kobo), "discount": None,
            "type": catalogue.VTPASS_IDENTIFIERS[catalogue.VTPASS_IDENTIFIER_BY_TYPE[p.utility_type]][0],
            "email": "sandbox@example.com", "phone": txn.phone, "name": None,
            "convinience_fee": naira(txn.fee_kobo), "amount": naira(txn.amount_kobo), "platform": "api",
            "method": "api", "transactionId": txn.provider_ref, "variation_code": p.vt_variation_code,
        }},
    }
    if txn.status == "failed":  # the reason travels in the description too, where clients look first
        body["content"]["error"] = txn.message
        body["response_description"] = f"{body['response_description']}: {txn.message}"
    if txn.token:
        grouped = customers.group_token(txn.token)
        body.update({"purchased_code": f"Token : {grouped}", "token": grouped, "mainToken": txn.token,
                     "mainTokenUnits": txn.units, "units": f"{txn.units} kWh"})
        # On a requery the token is also in content.transactions.extras (vtpass.com/documentation/
        # ikedc-ikeja-electricity-distribution-company-payment-api, requery sample).
        body["content"]["transactions"]["extras"] = f"Token : {grouped}"
        # Key change tokens beside the token, "N/A" when the meter needs none (the same IKEDC page's
        # pay and requery samples). The page shows no filled-in value, so a real one is sent as
        # its 20 digits.
        kct1, kct2 = txn.key_change_tokens or ("N/A", "N/A")
        body.update({"kct1": kct1, "kct2": kct2})
    else:
        body["purchased_code"] = ""  # as the published postpaid and airtime answers have it
    return body


def render_transient(outcome: bills.Outcome):
    if outcome.kind == "unavailable":
        return answer("083", "Service temporarily unavailable, please retry", 503)
    if outcome.kind == "rate_limited":
        return answer("083", "Too many requests, please slow down", 429)
    if outcome.kind == "not_processed":
        return answer("091", "The transaction was not processed and you were not charged")
    if outcome.kind == "drop":
        return drop_connection(outcome.hold)
    return None


REJECTIONS = {"amount_below": "013", "amount_above": "017", "low_balance": "018", "likely_duplicate": "019"}


@bp.post("/pay")
def pay():
    body = request_body()
    request_id = str(body.get("request_id") or "").strip()
    service_id, number = str(body.get("serviceID") or ""), customers.normalise(body.get("billersCode"))
    if not (request_id and service_id and number):
        return answer("011", "request_id, serviceID and billersCode are required")
    problem = request_id_problem(request_id)
    if problem:
        return answer("085", problem)
    if service_id not in catalogue.vt_services():
        return answer("012", f"Unknown serviceID {service_id!r}")
    product = catalogue.by_vt_variation(service_id, body.get("variation_code"))
    if product is None:
        return answer("010", f"Unknown variation_code {body.get('variation_code')!r} for {service_id}")
    amount = body.get("amount")
    amount_kobo = product.fixed_kobo if product.fixed_kobo and amount in (None, "", 0, "0") else parse_naira(amount)
    if amount_kobo is None:
        return answer("011", "amount must be a positive amount in naira")
    phone = str(body.get("phone") or "") or None
    sandbox = state()
    outcome = bills.purchase(sandbox, "vtpass", request_id, product, number, amount_kobo, phone=phone,
                             duplicate_window=sandbox.knobs.duplicate_window)
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    if outcome.kind == "duplicate":
        return answer("014", f"request_id {request_id} has already been used", requestId=request_id)
    if outcome.kind == "rejected" and outcome.reason == "customer":
        txn = bills.record_failure(sandbox, "vtpass", request_id, product, number, amount_kobo, phone,
                                   "Customer not found: invalid billersCode")
        return jsonify(txn_json(txn, "016"))
    if outcome.kind == "rejected":
        return answer(REJECTIONS[outcome.reason], outcome.reason.replace("_", " "), requestId=request_id)
    code = {"successful": "000", "pending": "099", "failed": "016"}[outcome.kind]
    return jsonify(txn_json(outcome.txn, code))


@bp.post("/requery")
def requery():
    request_id = str(request_body().get("request_id") or "").strip()
    if not request_id:
        return answer("011", "request_id is required")
    outcome = bills.query(state(), "vtpass", request_id)
    transient = render_transient(outcome)
    if transient is not None:
        return transient
    if outcome.kind == "not_found":
        return answer("015", "This request_id was not used on this platform", requestId=request_id)
    if outcome.kind == "pending":
        return jsonify(txn_json(outcome.txn, "000", "TRANSACTION PROCESSED"))
    return jsonify(txn_json(outcome.txn, "000" if outcome.kind == "successful" else "016"))
