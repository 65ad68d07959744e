"""Token vault views. They parse the query string or form, call the vault's query or service, render.

HTMX requests get the changed region from the same templates the full page uses; without
JavaScript every action is a plain form POST and a redirect back to the list.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.errors import render_error
from webapp.history.routes import TOKEN_SENT, resend_limit
from webapp.models.base import utcnow
from webapp.presentation import partials
from webapp.queries import token_vault
from webapp.request_numbers import parse_id, parse_page
from webapp.services import token_vault as vault_service
from webapp.services.payments import outcomes
from webapp.tokens import bp
from webapp.tokens.forms import MarkUsedForm, VaultFilterForm

TOKEN_TEXTED = "Token sent by SMS to your phone and to your inbox"


def _validity_days() -> int:
    return int(current_app.config.get("TOKEN_VALIDITY_DAYS", 90))


def _entry_context(payment, page: int | None = None, meter_id: int | None = None) -> dict:
    return {"entry": payment,
            "past_validity": token_vault.past_validity(payment, utcnow(), _validity_days()),
            "validity_days": _validity_days(), "page": page, "meter_id": meter_id}


@bp.route("/")
def index():
    meters = token_vault.resident_meters(current_user.id)
    form = VaultFilterForm(request.args)
    form.meter.choices = [(m.id, m.nickname) for m in meters]
    form.validate()
    filters = form.filters()
    pagination = token_vault.vault_page(current_user.id, filters, page=parse_page(request.args.get("page")))
    now, days = utcnow(), _validity_days()
    past = {p.id for p in pagination.items if token_vault.past_validity(p, now, days)}
    return partials.render("tokens/index.html", "results", pagination=pagination, form=form, filters=filters,
                           errors=form.messages, meters=meters, past_validity_ids=past, validity_days=days)


def _back_to_list(form_data) -> str:
    """The list the resident was on: its meter and page, read like the query string (bad ones dropped)."""
    args = {}
    meter_id = parse_id(form_data.get("meter"))
    if meter_id is not None:
        args["meter"] = meter_id
    page = parse_page(form_data.get("page"))
    if page > 1:
        args["page"] = page
    return url_for(".index", **args)


@bp.route("/<int:payment_id>/used", methods=["POST"])
def mark_used(payment_id: int):
    """Mark one token used (or not used), and when."""
    payment = token_vault.vault_entry(current_user.id, payment_id)
    if payment is None:
        abort(404)
    form = MarkUsedForm()
    if not form.validate():
        return render_error(400, form.problem)
    try:
        vault_service.mark_used(payment, form.used.data == "yes")
    except outcomes.NoToken as exc:
        return render_error(400, str(exc))
    if partials.is_partial():
        return render_template("tokens/_status.html", **_entry_context(payment, parse_page(request.form.get("page")),
                                                                      parse_id(request.form.get("meter"))))
    flash("Marked used." if payment.token_used_at else "Marked not used.", "success")
    return redirect(_back_to_list(request.form))


@bp.route("/<int:payment_id>/email", methods=["POST"])
@resend_limit
def email_token(payment_id: int):
    """Email this token (and put it in the inbox) again: one message per click, through the outbox."""
    payment = token_vault.vault_entry(current_user.id, payment_id)
    if payment is None:
        abort(404)
    try:
        outcomes.resend_token(payment, current_user._get_current_object())
    except outcomes.NoToken as exc:
        return render_error(400, str(exc))
    if partials.is_partial():
        return render_template("history/_token_sent.html", message=TOKEN_SENT)
    flash(TOKEN_SENT, "success")
    return redirect(_back_to_list(request.form))


@bp.route("/<int:payment_id>/sms", methods=["POST"])
@resend_limit
def sms_token(payment_id: int):
    """Text this token to the resident's phone (and put it in the inbox): one SMS per click, at
    once even in their quiet hours, under the same re-send limit as email."""
    payment = token_vault.vault_entry(current_user.id, payment_id)
    if payment is None:
        abort(404)
    try:
        outcomes.resend_token(payment, current_user._get_current_object(), channels=outcomes.SMS_RESEND_CHANNELS)
    except (outcomes.NoToken, outcomes.NoPhone) as exc:
        return render_error(400, str(exc))
    if partials.is_partial():
        return render_template("history/_token_sent.html", message=TOKEN_TEXTED)
    flash(TOKEN_TEXTED, "success")
    return redirect(_back_to_list(request.form))
