"""A page that "sends" a bank transfer into a Paystack dedicated account: ``/transfer/paystack``.

The sandbox's stand-in for the resident's banking app. Send records a successful transfer, posts
Paystack's signed ``charge.success`` (channel ``dedicated_nuban``) to the app and shows what it did.
The app's wallet links here under ``make run`` with ``account_number`` and ``notify`` (the app's
address, where the webhook goes unless the ``webhook_base`` knob says otherwise).
"""
from __future__ import annotations

from flask import Blueprint, render_template, request

from webapp.sandbox import funding, paystack_accounts
from webapp.sandbox.wire import naira_display, parse_naira, state

bp = Blueprint("transfer_page", __name__)


def _form():
    source = request.form if request.method == "POST" else request.args
    return {"account_number": (source.get("account_number") or "").strip(),
            "amount": (source.get("amount") or "").strip(), "notify": funding.origin(source.get("notify"))}


@bp.route("/transfer/paystack", methods=["GET", "POST"])
def page():
    form, error, delivered, txn = _form(), None, None, None
    if request.method == "POST":
        amount_kobo = parse_naira(form["amount"])
        if amount_kobo is None or amount_kobo <= 0:
            error = "Type an amount in naira, such as 2500 or 2500.50."
        else:
            try:
                txn = paystack_accounts.transfer(state(), form["account_number"], amount_kobo)
            except paystack_accounts.UnknownAccount:
                error = "No dedicated account has that number."
            else:
                delivered = paystack_accounts.deliver_transfer_webhook(state(), txn, form["notify"])
    status = 400 if error else 200
    return render_template("transfer.html", form=form, error=error, txn=txn, delivered=delivered,
                           amount=naira_display(txn.amount_kobo) if txn else None), status
