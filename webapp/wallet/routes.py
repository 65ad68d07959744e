"""Wallet pages. Views parse input, call the funding service and render; the service does the rest."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.infra import sqlite_files
from webapp.money import naira_input
from webapp.presentation import partials
from webapp.request_numbers import parse_count, parse_page
from webapp.services import funding, virtual_accounts
from webapp.wallet import bp
from webapp.wallet.forms import BankAccountForm, FundForm

STATEMENT_PER_PAGE = 20
# Where each gateway puts our reference when it sends the resident back.
RETURN_REFERENCE_PARAMS = {"paystack": ("reference", "trxref"), "flutterwave": ("tx_ref",)}


def return_url(gateway: str) -> str:
    """Absolute URL the gateway sends the resident back to (and whose origin gets the webhook)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for("wallet.fund_return", gateway=gateway)
    return url_for("wallet.fund_return", gateway=gateway, _external=True)


def _index(bank_form: BankAccountForm | None = None, status: int = 200):
    account = virtual_accounts.find_account(current_user.id)
    app_url = (current_app.config.get("PUBLIC_BASE_URL") or request.host_url).rstrip("/")
    return render_template(
        "wallet/index.html", summary=funding.wallet_summary(current_user.id), bank_account=account,
        bank_form=bank_form or BankAccountForm(), needs_phone=not current_user.phone,
        sandbox_transfer_url=virtual_accounts.sandbox_transfer_url(account, app_url),
    ), status


@bp.route("/")
def index():
    return _index()


@bp.route("/bank-account", methods=["POST"])
def bank_account():
    """Get the resident's dedicated account number for funding by bank transfer (once; a second
    request finds the first account)."""
    form = BankAccountForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    try:
        virtual_accounts.assign(current_user, phone=form.phone.data)
    except virtual_accounts.PhoneNeeded as exc:
        form.phone.errors.append(str(exc))
        return _index(form, 422)
    except virtual_accounts.AssignmentError as exc:
        flash(str(exc), "error")
        return _index(form, 503)
    flash("Your account number is ready. Transfers to it are added to your wallet.", "success")
    return redirect(url_for(".index") + "#bank-transfer", 303)


@bp.route("/fund", methods=["GET", "POST"])
def fund():
    form = FundForm()
    status = 200
    if form.validate_on_submit():
        gateway = form.gateway.data
        try:
            intent = funding.start_funding(current_user, form.amount.data, gateway, return_url(gateway))
        except funding.FundingError as exc:
            getattr(form, exc.field or "amount").errors.append(str(exc))
        else:
            if intent.checkout_url:
                return redirect(intent.checkout_url)
            flash(intent.failure_reason, "error")
            status = 503
    elif request.method == "GET":
        amount_kobo = parse_count(request.args.get("amount"), 1, current_app.config["FUNDING_MAX_KOBO"])
        if amount_kobo is not None:  # kobo, from "Add ₦X" links that cover a shortfall
            form.amount.raw_text = naira_input(amount_kobo)
    if form.errors:
        status = 422
    return render_template(
        "wallet/fund.html", form=form,
        min_kobo=current_app.config["FUNDING_MIN_KOBO"], max_kobo=current_app.config["FUNDING_MAX_KOBO"],
    ), status


@bp.route("/fund/return/<gateway>")
@sqlite_files.writes_on_get
def fund_return(gateway: str):
    # A GET because that is how gateways send people back. It only asks the gateway and settles
    # the intent (idempotent); it never trusts the query string beyond picking the reference.
    params = RETURN_REFERENCE_PARAMS.get(gateway)
    if params is None:
        abort(404)
    reference = next((request.args[p] for p in params if request.args.get(p)), None)
    if not reference:
        abort(404)
    try:
        funding.confirm_funding(reference, source="return", user_id=current_user.id)
    except funding.UnknownFunding:
        abort(404)
    except funding.VerificationUnavailable:
        flash("We are still confirming your payment with the gateway. This page updates by itself.", "info")
    return redirect(url_for(".result", reference=reference))


@bp.route("/fund/<reference>")
def result(reference: str):
    intent = funding.find_intent(reference, user_id=current_user.id)
    if intent is None:
        abort(404)
    return partials.render("wallet/result.html", "status", intent=intent)


@bp.route("/statement")
def statement():
    page = parse_page(request.args.get("page"))
    pagination = funding.wallet_statement(current_user.id, page=page, per_page=STATEMENT_PER_PAGE)
    return render_template("wallet/statement.html", pagination=pagination)
