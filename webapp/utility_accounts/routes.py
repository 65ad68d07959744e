"""Utility account pages. Views parse input, call the utility accounts service and render.

The link page is one template; HTMX requests get one of its blocks instead of the whole page
(``presentation.partials``), so both renderings come from the same markup and the page works
without JS.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user
from markupsafe import Markup

from webapp.extensions import limiter
from webapp.households import acting
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.presentation import partials
from webapp.services import access, meter_usage, utility_accounts
from webapp.services.utility_accounts import AccountError
from webapp.utility_accounts import bp
from webapp.utility_accounts.forms import LinkAccountForm, RemoveForm, RenameForm

NEW_TEMPLATE = "utility_accounts/new.html"
DEFAULT_VALIDATION_LIMIT = "30 per minute"


def _validation_limit() -> str:
    return current_app.config.get("VALIDATION_RATE_LIMIT") or DEFAULT_VALIDATION_LIMIT


def _resident_key() -> str:
    # Per resident, not per address: an estate's residents often share one NAT address.
    user_id = getattr(current_user, "id", None)
    return f"user:{user_id}" if user_id else get_remote_address()


# Both the inline check and the save ask the provider, so they share one budget.
validation_limit = limiter.shared_limit(
    _validation_limit, scope="customer-validation", key_func=_resident_key, methods=["POST"]
)


@bp.route("/")
def index():
    now, owner_id = utcnow(), acting.scope().owner_id
    return render_template("utility_accounts/index.html", accounts=utility_accounts.list_accounts(owner_id),
                           run_outs=meter_usage.predictions_for(owner_id, now), now=now)


# --- linking -----------------------------------------------------------------------------

def _link_context(form: LinkAccountForm, preview=None, problem: str | None = None) -> dict:
    """What the link page shows for the choices in ``form``: the type, its providers, the label."""
    entry = utility_accounts.provider_for(acting.owner(), form.provider_id_int)
    if entry is not None:
        form.utility_type.data = entry.provider_type
    utility_type = form.utility_type.data or None
    choices = utility_accounts.choices(acting.owner(), utility_type)
    if utility_type not in choices.types:
        utility_type = form.utility_type.data = None
    return {
        "form": form,
        "choices": choices,
        "entry": entry,
        "utility_type": utility_type,
        "label": utility_accounts.number_label(entry, utility_type),
        "hint": utility_accounts.number_hint(entry, utility_type),
        "preview": preview,
        "problem": problem,
        "outstanding": utility_accounts.reported_outstanding(entry, preview),
    }


def _linked_message(account, outstanding: int | None) -> Markup:
    """What the resident reads once an account is linked; a postpaid account that owes money gets a
    link to the pay page with that amount filled in (the pay page takes ``amount`` in kobo)."""
    message = Markup("Linked “{}” ({}).").format(account.nickname, account.masked_number)
    if outstanding is None:
        return message
    if outstanding == 0:
        return message + " The provider says it owes nothing."
    pay = url_for("pay.start", account=account.id, amount=outstanding)
    return message + Markup(' This account owes {} — <a href="{}">pay it now</a>.').format(naira(outstanding), pay)


def _type_arg() -> str | None:
    # ``type`` in links; ``utility_type`` is what the form's select sends (HTMX, or a GET form).
    return request.args.get("type") or request.args.get("utility_type")


def _add_error(form: LinkAccountForm, exc: AccountError) -> None:
    field = getattr(form, exc.field, form.customer_number)
    field.errors = [*field.errors, exc.message]


@bp.route("/new", methods=["GET", "POST"])
@validation_limit
def new():
    form = LinkAccountForm()
    if request.method == "GET":
        form.utility_type.data = _type_arg()
        form.provider_id.data = request.args.get("provider_id")
    if form.validate_on_submit():
        try:
            account, outstanding = utility_accounts.link_account_reporting(
                acting.owner(), form.provider_id_int, form.customer_number.data, form.nickname.data
            )
        except AccountError as exc:
            _add_error(form, exc)
        else:
            flash(_linked_message(account, outstanding), "success")
            return redirect(url_for(".index"))
    status = 422 if form.errors else 200
    return render_template(NEW_TEMPLATE, **_link_context(form)), status


@bp.route("/new/providers")
def providers():
    """The provider choices for a utility type (HTMX swaps them in when the type changes)."""
    form = LinkAccountForm(formdata=None)
    form.utility_type.data = _type_arg()
    form.provider_id.data = request.args.get("provider_id")
    # Swapped in alone, the step also brings the number's label and hint (out of band).
    return partials.render(NEW_TEMPLATE, "provider_step", oob=partials.is_partial(), **_link_context(form))


@bp.route("/new/validate", methods=["POST"])
@validation_limit
def validate():
    """Who the typed number belongs to (HTMX, inline), without saving anything."""
    form = LinkAccountForm()
    preview = problem = None
    try:
        preview = utility_accounts.validate_number(acting.owner(), form.provider_id_int, form.customer_number.data)
    except AccountError as exc:
        problem = exc.message
    context = _link_context(form, preview=preview, problem=problem)
    if partials.is_partial():
        # 200 either way: the fragment carries the message and HTMX swaps only successful answers.
        return partials.render(NEW_TEMPLATE, "number_feedback", **context)
    return render_template(NEW_TEMPLATE, **context), 422 if problem else 200


# --- managing -----------------------------------------------------------------------------

def _account_or_404(account_id: int):
    account = access.own_utility_account(acting.scope().owner_id, account_id)
    if account is None:
        abort(404)
    return account


@bp.route("/<int:account_id>/rename", methods=["GET", "POST"])
def rename(account_id: int):
    account = _account_or_404(account_id)
    form = RenameForm()
    if request.method == "GET":
        form.nickname.data = account.nickname
    if form.validate_on_submit():
        try:
            utility_accounts.rename(acting.scope().owner_id, account.id, form.nickname.data)
        except AccountError as exc:
            form.nickname.errors = [*form.nickname.errors, exc.message]
        else:
            flash(f"Renamed to “{account.nickname}”.", "success")
            return redirect(url_for(".index"))
    return render_template("utility_accounts/rename.html", account=account, form=form), 422 if form.errors else 200


@bp.route("/<int:account_id>/remove", methods=["GET", "POST"])
def remove(account_id: int):
    """GET asks for confirmation; POST removes (softly: the payment history stays)."""
    account = _account_or_404(account_id)
    form = RemoveForm()
    if form.validate_on_submit():
        utility_accounts.remove(acting.scope().owner_id, account.id)
        flash(f"Removed “{account.nickname}”. Its payment history is kept.", "success")
        return redirect(url_for(".index"))
    return render_template("utility_accounts/remove.html", account=account, form=form)
