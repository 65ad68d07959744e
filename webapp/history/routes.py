"""History pages. Views parse the query string, call the history service and render."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.errors import render_error
from webapp.extensions import limiter
from webapp.history import bp
from webapp.history.forms import HistoryFilterForm
from webapp.households import acting
from webapp.models.catalogue import UTILITY_TYPES
from webapp.presentation import partials
from webapp.presentation.csv_download import csv_download
from webapp.queries import history, payment_story
from webapp.request_numbers import parse_page
from webapp.services.payments import outcomes

DEFAULT_RESEND_LIMIT = "3 per minute; 10 per day"
RESEND_LIMITED = "You have asked for tokens to be sent again several times already. Wait a little and try again."
TOKEN_SENT = "Token sent to your email and inbox"


@bp.app_template_filter("status_label")
def status_label(status: str | None) -> str:
    """A payment status in the resident's words ("unknown" reads as "Confirming with provider")."""
    return history.STATUS_LABELS.get(status, (status or "").capitalize())


def _filters() -> tuple[HistoryFilterForm, history.HistoryFilters, list]:
    accounts = history.resident_accounts(acting.scope().owner_id)
    form = HistoryFilterForm(request.args)
    form.account.choices = [(a.id, a.nickname) for a in accounts]
    form.validate()
    return form, form.filters(), accounts


@bp.route("/")
def index():
    form, filters, accounts = _filters()
    page = parse_page(request.args.get("page"))
    pagination = history.history_page(acting.owner(), filters, page=page, scope=acting.scope())
    return partials.render(
        "history/index.html", "results", pagination=pagination, form=form, filters=filters, errors=form.messages,
        accounts=accounts, utility_types=UTILITY_TYPES, statuses=list(history.STATUS_LABELS),
    )


@bp.route("/export.csv")
def export_csv():
    _form, filters, _accounts = _filters()
    # Plain values only: the generator runs after this request's database session is closed.
    scope, timezone = acting.scope(), acting.owner().effective_timezone

    return csv_download(history.csv_rows(scope, timezone, filters),
                        f"payments-{datetime.now(UTC).strftime('%Y%m%d')}.csv")


@bp.route("/<int:payment_id>")
def detail(payment_id: int):
    found = history.payment_detail(acting.scope(), payment_id)
    if found is None:
        abort(404)
    return render_template("history/detail.html", detail=found, payment=found.payment,
                           actors=payment_story.actor_labels(found.payment.events, current_user),
                           refund_reason=payment_story.refund_reason(found.payment))


@bp.route("/<int:payment_id>/receipt")
def receipt(payment_id: int):
    payment = history.receipt(acting.scope(), payment_id)
    if payment is None:
        abort(404)
    return render_template("history/receipt.html", payment=payment)


def _resend_limit() -> str:
    return current_app.config.get("TOKEN_RESEND_RATE_LIMIT", DEFAULT_RESEND_LIMIT)


def _per_resident() -> str:
    return f"resident:{current_user.id}"  # the blueprint's guard has signed them in


# One budget for every "send me this token" button (this page's and the token vault's).
resend_limit = limiter.shared_limit(_resend_limit, scope="token-resend", key_func=_per_resident,
                                    error_message=RESEND_LIMITED)


@bp.route("/<int:payment_id>/resend-token", methods=["POST"])
@resend_limit
def resend_token(payment_id: int):
    """Send the payment's token to the resident again (inbox and email)."""
    payment = history.find_payment(acting.scope(), payment_id)
    if payment is None:
        abort(404)
    try:
        outcomes.resend_token(payment, acting.actor(), owner_id=acting.scope().owner_id)
    except outcomes.NoToken as exc:
        return render_error(400, str(exc))
    if partials.is_partial():
        return render_template("history/_token_sent.html", message=TOKEN_SENT)
    flash(TOKEN_SENT, "success")
    return redirect(url_for(".detail", payment_id=payment.id))
