"""Admin: payouts from the estate wallet to the estate's bank account, with two admins (maker-checker).

- ``/payouts/``: the wallet, what is available, the payout accounts, the payouts (awaiting approval
  first) with their status;
- ``/payouts/accounts/new``: a bank account, resolved through the gateway before it is kept;
- ``/payouts/new``: ask for a payout; ``/payouts/<id>``: its timeline, and approve or reject (a
  second admin), withdraw (the one who asked), or ask the gateway now.

Views parse and render; ``services.payouts`` holds the rules and writes the audit rows. Every id
goes through ``scoped`` (404 outside the admin's estates).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from webapp.admin import bp
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.payout_forms import PayoutAccountForm, PayoutDecisionForm, PayoutRequestForm, PayoutSettleForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import scoped, visible_estates
from webapp.extensions import db
from webapp.models import Estate, Payout, PayoutAccount, PayoutEvent, PayoutStatus, User
from webapp.models.base import utcnow
from webapp.models.payout import STATUS_LABELS
from webapp.request_numbers import parse_page
from webapp.services import ledger, payouts
from webapp.services.payouts import jobs, transfers

PER_PAGE = 25


def _estate_arg(estate: Estate) -> int | None:
    return estate.id if current_user.is_platform_admin else None


def _pick_estate(what: str, endpoint: str):
    return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                           action=url_for(endpoint), what=what)


@bp.route("/payouts/")
@needs(Right.READ)
def payouts_index():
    estate = chosen_estate()
    if estate is None:
        return _pick_estate("see payouts", "admin.payouts_index")
    page = parse_page(request.args.get("page"))
    query = (select(Payout).where(Payout.estate_id == estate.id)
             .options(selectinload(Payout.account), selectinload(Payout.requested_by),
                      selectinload(Payout.approved_by))
             .order_by((Payout.status == PayoutStatus.REQUESTED.value).desc(), Payout.created_at.desc(),
                       Payout.id.desc()))
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    balance = ledger.estate_balance(estate.id)
    return render_template("admin/payouts/index.html", estate=estate, estates=visible_estates(),
                           pagination=pagination, balance_kobo=balance,
                           waiting_kobo=payouts.waiting_total(estate.id), accounts=payouts.live_accounts(estate.id),
                           estate_arg=_estate_arg(estate), gateways=payouts.gateways())


@bp.route("/payouts/accounts/new", methods=["GET", "POST"])
@needs(Right.PAYOUTS)
def payout_account_new():
    estate = chosen_estate()
    if estate is None:
        return _pick_estate("add a payout account", "admin.payout_account_new")
    gateways = payouts.gateways()
    form = PayoutAccountForm()
    form.set_gateways(gateways)
    gateway = form.gateway.data if form.gateway.data in gateways else (gateways or [None])[0]
    banks, unavailable = [], None
    if gateway is None:
        unavailable = "No payment gateway is set up on this server for payouts."
    else:
        try:
            banks = payouts.banks(gateway)
        except payouts.GatewayUnavailable as exc:
            unavailable = exc.message
    form.bank_code.choices = [SelectChoice("", "Choose the bank")] + [SelectChoice(b.code, b.name) for b in banks]
    adding = request.method == "POST" and request.form.get("action") != "change_gateway"
    if adding and gateway is not None and form.validate_on_submit():
        try:
            account = payouts.add_account(estate.id, gateway, form.bank_code.data, form.account_number.data,
                                          current_user)
        except payouts.PayoutRefused as exc:
            target = getattr(form, exc.field or "", None)
            if target is None:
                flash(exc.message, "error")
            else:
                target.errors = [*target.errors, exc.message]
        except payouts.GatewayUnavailable as exc:
            flash(exc.message, "error")
        else:
            flash(f"Added {account.label}. The bank gives the account's name as {account.account_name}.", "success")
            return redirect(url_for("admin.payouts_index", estate=_estate_arg(estate)))
    status = 422 if adding else 200
    return render_template("admin/payouts/account_new.html", form=form, estate=estate, unavailable=unavailable,
                           estate_arg=_estate_arg(estate)), status


@bp.route("/payouts/accounts/<int:payout_account_id>/remove", methods=["POST"])
@needs(Right.PAYOUTS)
def payout_account_remove(payout_account_id: int):
    account = scoped(PayoutAccount, payout_account_id)
    form = PayoutDecisionForm()
    if form.validate_on_submit():
        try:
            payouts.remove_account(account.estate_id, account.id, current_user)
        except payouts.PayoutRefused as exc:
            flash(exc.message, "error")
        else:
            flash(f"Removed {account.label}; no payout can be sent to it now.", "success")
    else:
        flash("The form expired; please try again.", "error")
    return redirect(url_for("admin.payouts_index", estate=account.estate_id if current_user.is_platform_admin
                            else None))


@bp.route("/payouts/new", methods=["GET", "POST"])
@needs(Right.PAYOUTS)
def payouts_new():
    estate = chosen_estate()
    if estate is None:
        return _pick_estate("ask for a payout", "admin.payouts_new")
    accounts = payouts.live_accounts(estate.id)
    form = PayoutRequestForm()
    form.account.choices = [SelectChoice(a.id, f"{a.label} (via {a.gateway.capitalize()})") for a in accounts]
    if form.validate_on_submit():
        try:
            payout = payouts.request_payout(estate.id, form.account.data, form.amount.data, form.narration.data,
                                            current_user)
        except payouts.PayoutRefused as exc:
            db.session.rollback()
            target = getattr(form, exc.field or "", None)
            if target is None:
                flash(exc.message, "error")
            else:
                target.errors = [*target.errors, exc.message]
        else:
            flash("Asked. Another admin of the estate must approve the payout before any money moves.", "success")
            return redirect(url_for("admin.payout_detail", payout_id=payout.id))
    available = payouts.available(estate.id)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/payouts/new.html", form=form, estate=estate, available_kobo=available,
                           accounts=accounts, estate_arg=_estate_arg(estate)), status


@bp.route("/payouts/<int:payout_id>")
@needs(Right.READ)
def payout_detail(payout_id: int):
    payout = scoped(Payout, payout_id)
    account = db.session.get(PayoutAccount, payout.payout_account_id)
    events = list(db.session.scalars(select(PayoutEvent).where(PayoutEvent.payout_id == payout.id)
                                     .order_by(PayoutEvent.id)))
    # Everyone the page names (who asked, approved, added the account, acted), in one query.
    named = {payout.requested_by_id, payout.approved_by_id, account.added_by_id, *(e.actor_id for e in events)}
    people = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(named - {None})))}
    after = timedelta(seconds=current_app.config["PAYOUT_UNRESOLVED_ALERT_AFTER_SECONDS"])
    settle_form = None
    if payout.status in transfers.SENT and payout.submitted_at and utcnow() - payout.submitted_at >= after:
        settle_form = PayoutSettleForm(formdata=None)
    return render_template("admin/payouts/detail.html", payout=payout, account=account, people=people,
                           events=events, actors=people, form=PayoutDecisionForm(formdata=None),
                           settle_form=settle_form,
                           status_labels=STATUS_LABELS, balance_kobo=ledger.estate_balance(payout.estate_id))


def _decide(payout_id: int, action) -> str:
    payout = scoped(Payout, payout_id)
    form = PayoutDecisionForm()
    if not form.validate_on_submit():
        flash(next(iter(form.reason.errors), "The form expired; please try again."), "error")
        return redirect(url_for("admin.payout_detail", payout_id=payout.id))
    try:
        message = action(payout, form.reason.data or "")
    except payouts.PayoutRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(message, "success")
    return redirect(url_for("admin.payout_detail", payout_id=payout.id))


@bp.route("/payouts/<int:payout_id>/approve", methods=["POST"])
@needs(Right.PAYOUTS)
def payout_approve(payout_id: int):
    def act(payout, _reason):
        payouts.approve(payout, current_user)
        return "Approved. The transfer is on its way; this page shows when the bank has it."
    return _decide(payout_id, act)


@bp.route("/payouts/<int:payout_id>/reject", methods=["POST"])
@needs(Right.PAYOUTS)
def payout_reject(payout_id: int):
    def act(payout, reason):
        payouts.reject(payout, current_user, reason)
        return "Rejected. No money moved."
    return _decide(payout_id, act)


@bp.route("/payouts/<int:payout_id>/withdraw", methods=["POST"])
@needs(Right.PAYOUTS)
def payout_withdraw(payout_id: int):
    def act(payout, reason):
        payouts.withdraw(payout, current_user, reason)
        return "Withdrawn. No money moved."
    return _decide(payout_id, act)


@bp.route("/payouts/<int:payout_id>/settle", methods=["POST"])
@needs(Right.PAYOUTS)
def payout_settle(payout_id: int):
    payout = scoped(Payout, payout_id)
    form = PayoutSettleForm()
    if not form.validate_on_submit():
        flash(next(iter(form.outcome.errors or form.note.errors), "The form expired; please try again."), "error")
        return redirect(url_for("admin.payout_detail", payout_id=payout.id))
    try:
        transfers.settle_by_hand(payout, current_user, form.outcome.data, form.note.data)
    except payouts.PayoutRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash("Settled by hand; the audit log records it with your note.", "success")
    return redirect(url_for("admin.payout_detail", payout_id=payout.id))


@bp.route("/payouts/<int:payout_id>/check", methods=["POST"])
@needs(Right.PAYOUTS)
def payout_check(payout_id: int):
    def act(payout, _reason):
        if payout.status not in {PayoutStatus.SUBMITTED, PayoutStatus.PENDING, PayoutStatus.UNKNOWN,
                                 PayoutStatus.SUCCEEDED}:
            raise payouts.PayoutRefused("There is nothing to ask the gateway about this payout.")
        if not jobs.enqueue_check(payout.id):
            raise payouts.PayoutRefused("We could not ask just now; the janitor keeps asking on its own.")
        return "Asking the gateway now; reload in a moment."
    return _decide(payout_id, act)
