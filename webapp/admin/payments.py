"""Payment operations: queues of held, unknown and failed payments, a payment's story, and the
admin actions on it (approve, reject, refund, requery) and on open alerts.

Every id is looked up through ``scope`` (another estate's payment is a 404, GET and POST); the
actions are ``payments.admin_actions``, which audit and notify; a refusal is shown as a flash.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.filter_forms import QueueForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import scoped, visible_estate_ids, visible_estates
from webapp.models import Payment
from webapp.queries import payment_operations, payment_story
from webapp.request_numbers import parse_page
from webapp.services.payments import admin_actions

REASON_MAX = 200


@bp.app_template_filter("age")
def age_filter(when) -> str:
    return payment_operations.age(when)


@bp.route("/payments/")
@needs(Right.READ)
def payments_index():
    form = QueueForm(request.args)
    form.validate()
    queue = form.chosen()
    page = parse_page(request.args.get("page"))
    estate_ids = visible_estate_ids()
    pagination = payment_operations.queue_page(estate_ids, queue, page=page)
    return render_template(
        "admin/payments/index.html", queue=queue, queues=payment_operations.QUEUES, pagination=pagination,
        counts=payment_operations.queue_counts(estate_ids), bills=payment_operations.bill_titles(pagination.items),
        alerts=payment_operations.open_alerts(estate_ids), estate_names=_estate_names(),
    )


@bp.route("/payments/<int:payment_id>")
@needs(Right.READ)
def payment_detail(payment_id: int):
    payment = scoped(Payment, payment_id)
    return render_template("admin/payments/detail.html", detail=payment_operations.detail(payment), payment=payment,
                           estate_names=_estate_names(), reason_max=REASON_MAX,
                           actors=payment_story.actor_labels(payment.events, current_user))


@bp.route("/payments/<int:payment_id>/approve", methods=["POST"])
@needs(Right.PAYMENTS)
def payment_approve(payment_id: int):
    return _act(payment_id, lambda pid, reason: admin_actions.approve_held(pid, current_user, reason),
                "Approved. The payment is on its way to the provider; the resident has been told.")


@bp.route("/payments/<int:payment_id>/reject", methods=["POST"])
@needs(Right.PAYMENTS)
def payment_reject(payment_id: int):
    return _act(payment_id, lambda pid, reason: admin_actions.reject_held(pid, current_user, reason),
                "Rejected. Nothing was taken from the resident's wallet; they have been told why.")


@bp.route("/payments/<int:payment_id>/refund", methods=["POST"])
@needs(Right.PAYMENTS)
def payment_refund(payment_id: int):
    return _act(payment_id, lambda pid, reason: admin_actions.refund_succeeded(pid, current_user, reason),
                "Refunded to the resident's wallet; they have been told why.")


@bp.route("/payments/<int:payment_id>/requery", methods=["POST"])
@needs(Right.PAYMENTS)
def payment_requery(payment_id: int):
    def requery(pid: int, _reason: str) -> Payment:
        return admin_actions.requery_now(pid, current_user)

    return _act(payment_id, requery, None)


@bp.route("/payments/alerts/<int:alert_id>/resolve", methods=["POST"])
@needs(Right.PAYMENTS)
def alert_resolve(alert_id: int):
    note = (request.form.get("note") or "").strip()
    if len(note) > REASON_MAX:
        flash(f"Keep the note to {REASON_MAX} characters.", "error")
        return redirect(url_for("admin.payments_index"))
    try:
        payment_operations.resolve_alert(alert_id, visible_estate_ids(), note)
    except payment_operations.AlertNotFound:
        abort(404)
    flash("Alert resolved.", "success")
    return redirect(url_for("admin.payments_index"))


def _act(payment_id: int, action: Callable[[int, str], Payment], done: str | None):
    payment = scoped(Payment, payment_id)  # 404 outside the admin's estates, before anything else
    target = url_for("admin.payment_detail", payment_id=payment.id)
    reason = (request.form.get("reason") or "").strip()
    if len(reason) > REASON_MAX:
        flash(f"Keep the reason to {REASON_MAX} characters; the resident reads it.", "error")
        return redirect(target)
    try:
        result = action(payment.id, reason)
    except admin_actions.ActionRefused as exc:
        flash(str(exc), "error")
        return redirect(target)
    flash(done or _requery_message(result), "success" if done or result.is_final else "info")
    return redirect(target)


def _requery_message(payment: Payment) -> str:
    if payment.is_final:
        return f"The provider answered: the payment is now {payment.status}."
    return "The provider has no final answer yet; the janitor keeps asking."


def _estate_names() -> dict[int, str]:
    """Estate names for a platform admin's tables (an estate admin sees one estate, named nowhere)."""
    if not current_user.is_platform_admin:
        return {}
    return {e.id: e.name for e in visible_estates()}
