import secrets

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from webapp.errors import render_error
from webapp.estate_bills import bp
from webapp.estate_bills.forms import PayBillForm
from webapp.extensions import limiter
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.money import naira_input
from webapp.services import access, estate_bills, ledger, payments


def _labels() -> dict:
    return {"type_labels": estate_bills.TYPE_LABELS, "status_labels": estate_bills.STATUS_LABELS,
            "open_statuses": OPEN_BILL_STATUSES}


@bp.route("/")
def index():
    bills = estate_bills.resident_bills(current_user)
    return render_template("estate_bills/index.html", bills=bills,
                           balance_kobo=ledger.wallet_balance(current_user.id), **_labels())


@bp.route("/<int:bill_id>/pay", methods=["GET", "POST"])
@limiter.limit(lambda: "20 per minute", methods=["POST"])
def pay(bill_id: int):
    bill = access.own_estate_bill(current_user.id, bill_id) or abort(404)
    form = PayBillForm()
    payable = estate_bills.payable_kobo(bill)
    if form.validate_on_submit():
        try:
            payment = estate_bills.pay_from_wallet(current_user, bill.id, form.amount.data,
                                                   (form.submit_key.data or "")[:80] or None)
        except payments.SubmitKeyTaken as exc:
            return render_error(409, str(exc))
        except estate_bills.BillError as exc:
            form.amount.errors = [*form.amount.errors, exc.message]
        else:
            return redirect(url_for("pay.status_page", payment_id=payment.id))
    elif not form.is_submitted() and payable:
        # Offer the whole remainder, written as a person would type it.
        form.amount.raw_text = naira_input(payable)
    if form.errors or not form.submit_key.data:
        form.submit_key.data = secrets.token_urlsafe(24)
    return render_template("estate_bills/pay.html", bill=bill, form=form, payable_kobo=payable,
                           balance_kobo=ledger.wallet_balance(current_user.id),
                           min_partial_kobo=estate_bills.MIN_PARTIAL_KOBO, **_labels()), 422 if form.errors else 200
