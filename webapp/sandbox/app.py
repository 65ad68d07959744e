"""The sandbox Flask app (its own app, never registered in the product): providers + control endpoints."""
from __future__ import annotations

import time

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.sandbox import (
    bills,
    checkout,
    flutterwave,
    flutterwave_funding,
    flutterwave_transfers,
    funding,
    paystack,
    paystack_accounts,
    paystack_transfers,
    termii,
    transfer_page,
    vtpass,
)
from webapp.sandbox.state import KnobError, State
from webapp.sandbox.wire import SandboxJSON, state

PREFIXES = {"flutterwave": "/flutterwave/v3", "vtpass": "/vtpass/api", "paystack": "/paystack", "termii": "/termii"}

control = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


@control.get("/config")
def get_config():
    return jsonify(state().knobs.as_dict())


@control.post("/config")
def set_config():
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        return jsonify({"error": "send the knobs as a JSON object"}), 400
    sandbox = state()
    try:
        with sandbox.lock:
            sandbox.knobs.update(changes)
    except KnobError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(sandbox.knobs.as_dict())


@control.post("/reset")
def reset():
    state().reset()
    return jsonify({"reset": True})


@control.get("/transactions")
def transactions():
    return jsonify(state().dump())


@control.post("/disagree")
def disagree():
    """Make one recorded bill disagree with the app (reconciliation tests):
    ``{"provider", "reference", "how": succeeded|failed|missing|amount, "amount_kobo"}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "send a JSON object"}), 400
    try:
        txn = bills.disagree(state(), str(body.get("provider")), str(body.get("reference")), str(body.get("how")),
                             body.get("amount_kobo") if isinstance(body.get("amount_kobo"), int) else None)
    except KeyError:
        return jsonify({"error": "no such bill"}), 404
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"bill": txn.as_dict() if txn else None})


@control.post("/transfer")
def transfer():
    """A bank transfer into a Paystack dedicated account and its signed ``charge.success``:
    ``{"account_number", "amount_kobo", "notify": app origin, "claimed_amount_kobo": what the
    webhook body says (default the true amount), "deliver": false to send no webhook}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "send a JSON object"}), 400
    amount, claimed = body.get("amount_kobo"), body.get("claimed_amount_kobo")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        return jsonify({"error": "amount_kobo must be a positive integer"}), 400
    if claimed is not None and (isinstance(claimed, bool) or not isinstance(claimed, int)):
        return jsonify({"error": "claimed_amount_kobo must be an integer"}), 400
    try:
        txn = paystack_accounts.transfer(state(), str(body.get("account_number") or ""), amount)
    except paystack_accounts.UnknownAccount:
        return jsonify({"error": "no such dedicated account"}), 404
    delivered = None
    if body.get("deliver", True) is not False:
        delivered = paystack_accounts.deliver_transfer_webhook(state(), txn, funding.origin(body.get("notify")),
                                                               claimed_amount_kobo=claimed)
    return jsonify({"transaction": paystack.transaction_json(txn), "webhook": delivered})


TRANSFER_GATEWAYS = {"paystack": paystack_transfers, "flutterwave": flutterwave_transfers}


@control.post("/transfers/reverse")
def reverse_transfer():
    """Reverse a successful transfer (payout) now and send its webhook: ``{"gateway", "reference"}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("gateway") not in TRANSFER_GATEWAYS:
        return jsonify({"error": "send {gateway: paystack|flutterwave, reference}"}), 400
    try:
        txn = TRANSFER_GATEWAYS[body["gateway"]].reverse(str(body.get("reference") or ""))
    except KeyError:
        return jsonify({"error": "no such transfer"}), 404
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 409
    return jsonify({"transfer": txn.as_dict()})


def create_sandbox_app(knobs: dict | None = None) -> Flask:
    """Build the sandbox app; ``knobs`` sets initial knob values (see ``state.Knobs``)."""
    app = Flask(__name__)
    app.json = SandboxJSON(app)  # keys in the order written, naira as exact numbers
    sandbox = State()
    if knobs:
        sandbox.knobs.update(knobs)
    app.extensions["sandbox_state"] = sandbox

    app.register_blueprint(flutterwave.bp, url_prefix=PREFIXES["flutterwave"])
    app.register_blueprint(flutterwave_funding.bp, url_prefix=PREFIXES["flutterwave"])
    app.register_blueprint(vtpass.bp, url_prefix=PREFIXES["vtpass"])
    app.register_blueprint(paystack.bp, url_prefix=PREFIXES["paystack"])
    app.register_blueprint(termii.bp, url_prefix=PREFIXES["termii"])
    app.register_blueprint(paystack_accounts.bp, url_prefix=PREFIXES["paystack"])
    app.register_blueprint(paystack_transfers.bp, url_prefix=PREFIXES["paystack"])
    app.register_blueprint(flutterwave_transfers.bp, url_prefix=PREFIXES["flutterwave"])
    app.register_blueprint(transfer_page.bp)
    app.register_blueprint(checkout.bp)
    app.register_blueprint(control)

    api_prefixes = tuple(PREFIXES.values())

    @app.before_request
    def add_latency():
        if request.path.startswith(api_prefixes) and sandbox.knobs.latency > 0:
            time.sleep(sandbox.knobs.latency)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        """Provider paths answer in the provider's envelope; the rest keep Flask's pages."""
        path = request.path
        if path.startswith(PREFIXES["flutterwave"]):
            return jsonify({"status": "error", "message": exc.description, "data": None}), exc.code
        if path.startswith(PREFIXES["paystack"]):
            return jsonify({"status": False, "message": exc.description, "type": "api_error",
                            "code": "not_found" if exc.code == 404 else "invalid_request"}), exc.code
        if path.startswith(PREFIXES["termii"]):
            return jsonify({"message": exc.description}), exc.code
        if path.startswith(PREFIXES["vtpass"]):
            return jsonify({"code": "011", "response_description": "INVALID ARGUMENTS",
                            "content": {"errors": exc.description}}), exc.code
        return exc

    @app.get("/")
    def index():
        base = request.host_url.rstrip("/")
        return jsonify({"sandbox": "Utility Autopay provider sandbox",
                        "base_urls": {name: base + prefix for name, prefix in PREFIXES.items()},
                        "knobs": sandbox.knobs.as_dict()})

    return app
