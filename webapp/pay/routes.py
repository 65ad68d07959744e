import secrets

from flask import abort, flash, redirect, render_template, request, url_for

from webapp.errors import render_error
from webapp.extensions import limiter
from webapp.households import acting
from webapp.money import naira_input
from webapp.pay import bp
from webapp.pay.forms import ConfirmForm, PayForm
from webapp.presentation import partials
from webapp.queries import payment_story
from webapp.request_numbers import MAX_AMOUNT_KOBO, parse_count
from webapp.services import access, payments
from webapp.services.utility_accounts import list_accounts


def _pay_form() -> PayForm:
    form = PayForm()
    accounts = list_accounts(acting.scope().owner_id)
    form.account.choices = [("", "Choose an account")] + [
        (str(a.id), f"{a.nickname} · {a.provider.name} · {a.masked_number}") for a in accounts
    ]
    return form


@bp.route("/", methods=["GET"])
def start():
    form = _pay_form()
    if request.args.get("account"):
        form.account.data = request.args["account"]
    amount_kobo = parse_count(request.args.get("amount"), 1, MAX_AMOUNT_KOBO)  # kobo, from "pay again" links
    if amount_kobo is not None:
        form.amount.raw_text = naira_input(amount_kobo)
    has_accounts = len(form.account.choices) > 1
    return render_template("pay/start.html", form=form, has_accounts=has_accounts)


@bp.route("/review", methods=["POST"])
@limiter.limit(lambda: "30 per minute")
def review():
    form = _pay_form()
    if not form.validate_on_submit():
        return render_template("pay/start.html", form=form, has_accounts=True), 422
    try:
        quote = payments.quote(acting.owner(), form.account.data, form.amount.data, made_by=acting.actor())
    except payments.PaymentRequestError as exc:
        field = form.amount if exc.field == "amount" else form.account
        field.errors = [*field.errors, str(exc)]
        return render_template("pay/start.html", form=form, has_accounts=True), 422
    confirm = ConfirmForm(formdata=None, account=quote.account.id, amount_kobo=quote.amount_kobo,
                          submit_key=secrets.token_urlsafe(24))
    return render_template("pay/review.html", quote=quote, form=confirm)


@bp.route("/confirm", methods=["POST"])
@limiter.limit(lambda: "20 per minute")
def confirm():
    form = ConfirmForm()
    if (not form.validate_on_submit() or form.account.data is None or form.amount_kobo.data is None
            or not form.submit_key.data):
        flash("That payment form was incomplete. Please start again.", "error")
        return redirect(url_for("pay.start"))
    try:
        payment = payments.create_utility_payment(
            acting.owner(), form.account.data, form.amount_kobo.data, form.submit_key.data[:80],
            made_by=acting.actor(),
        )
    except payments.SubmitKeyTaken as exc:
        return render_error(409, str(exc))
    except payments.PaymentRequestError as exc:
        flash(str(exc), "error")
        return redirect(url_for("pay.start", account=form.account.data))
    return redirect(url_for("pay.status_page", payment_id=payment.id))


@bp.route("/<int:payment_id>")
def status_page(payment_id: int):
    payment = access.own_payment(acting.scope(), payment_id) or abort(404)
    return partials.render("pay/status.html", "status", payment=payment,
                           refund_reason=payment_story.refund_reason(payment))
