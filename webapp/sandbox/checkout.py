"""The hosted checkout page both gateways link to: ``/checkout/<gateway>/<reference>``.

A plain HTML form with Pay and Cancel buttons (no JavaScript). Pay settles the payment (declined
for exactly ₦113.13), sends the gateway's signed webhook, then redirects the browser to the
callback/redirect URL with the gateway's query parameters. Cancel abandons it and redirects back.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from webapp.sandbox import flutterwave_funding, funding, paystack
from webapp.sandbox.wire import naira_display, state

bp = Blueprint("checkout", __name__)

GATEWAYS = {"paystack": paystack, "flutterwave": flutterwave_funding}
LABELS = {"paystack": "Paystack", "flutterwave": "Flutterwave"}


def _transaction(gateway: str, reference: str):
    if gateway not in GATEWAYS:
        abort(404)
    txn = funding.get(state(), gateway, reference)
    if txn is None or txn.kind != "checkout":
        abort(404)
    return txn


def _render(txn, status: int = 200):
    return render_template("checkout.html", txn=txn, gateway=LABELS[txn.gateway],
                           amount=naira_display(txn.amount_kobo),
                           return_url=GATEWAYS[txn.gateway].redirect_url(txn)), status


@bp.get("/checkout/<gateway>/<reference>")
def page(gateway: str, reference: str):
    return _render(_transaction(gateway, reference))


@bp.post("/checkout/<gateway>/<reference>")
def act(gateway: str, reference: str):
    _transaction(gateway, reference)
    action = request.form.get("action")
    if action not in ("pay", "cancel"):
        abort(400)
    txn, changed = funding.complete(state(), gateway, reference, action)
    module = GATEWAYS[gateway]
    if changed:
        module.after_checkout(txn)  # webhook first, so the app has it before the browser returns
    target = module.redirect_url(txn)
    if target:
        return redirect(target, 303)
    return _render(txn)
