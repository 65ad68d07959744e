"""Admin: bill plans, estate bills issued again every month, quarter or year (list, create, edit,
pause, resume, and a plan's page with a preview of its next issues).

Views parse and render; ``services.estate_bills`` holds the rules and writes the audit rows.
Every plan id goes through ``scoped`` (404 outside the admin's estates).
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from webapp.admin import bp
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.permissions import Right, needs
from webapp.admin.plan_forms import BillPlanForm, PlanActionForm
from webapp.admin.scope import scoped, visible_estate_ids, visible_estates
from webapp.extensions import db
from webapp.models import Bill, BillPlan, Estate
from webapp.services import estate_bills

FIELDS = ("title", "bill_type", "amount", "frequency", "day_of_month", "starts_on", "ends_on", "due_after_days",
          "grace_days", "reminder_days_after", "residents")


def _labels() -> dict:
    return {"type_labels": estate_bills.TYPE_LABELS, "frequency_labels": estate_bills.FREQUENCY_LABELS,
            "status_labels": estate_bills.STATUS_LABELS}


def _estate_arg(estate: Estate | None) -> int | None:
    return estate.id if estate is not None and current_user.is_platform_admin else None


def _form(estate: Estate) -> tuple[BillPlanForm, list]:
    residents = estate_bills.estate_residents(estate.id)
    form = BillPlanForm()
    form.residents.choices = [SelectChoice(r.id, f"{r.full_name} · {r.email}") for r in residents]
    return form, residents


def _show_error(form: BillPlanForm, exc: estate_bills.BillError) -> None:
    target = getattr(form, exc.field, None) if exc.field in FIELDS else None
    if target is None:
        flash(exc.message, "error")
    else:
        target.errors = [*target.errors, exc.message]


@bp.route("/bills/plans/")
@needs(Right.READ)
def bill_plans_index():
    estate = chosen_estate()
    estate_ids = [estate.id] if estate is not None else visible_estate_ids()
    return render_template("admin/bills/plans/index.html", rows=estate_bills.plans_of(estate_ids), estate=estate,
                           estates=visible_estates(), estate_arg=_estate_arg(estate), **_labels())


@bp.route("/bills/plans/new", methods=["GET", "POST"])
@needs(Right.BILLS)
def bill_plans_new():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.bill_plans_new"), what="set up a bill plan")
    form, residents = _form(estate)
    if form.validate_on_submit():
        try:
            plan = estate_bills.create_plan(estate.id, form.details(), created_by=current_user)
        except estate_bills.BillError as exc:
            _show_error(form, exc)
        else:
            flash(f"Set up {plan.title}. Its bills are issued on schedule.", "success")
            return redirect(url_for("admin.bill_plan_detail", plan_id=plan.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/bills/plans/form.html", form=form, estate=estate, residents=residents, plan=None,
                           estate_arg=_estate_arg(estate)), status


@bp.route("/bills/plans/<int:plan_id>")
@needs(Right.READ)
def bill_plan_detail(plan_id: int):
    plan = scoped(BillPlan, plan_id)
    recent = db.session.scalars(select(Bill).where(Bill.plan_id == plan.id)
                                .order_by(Bill.plan_period.desc(), Bill.id.desc()).limit(20)).all()
    return render_template("admin/bills/plans/detail.html", plan=plan, preview=estate_bills.preview(plan),
                           recipients=estate_bills.plan_recipients(plan), issued=estate_bills.bills_issued(plan.id),
                           recent=recent, action_form=PlanActionForm(), estate=db.session.get(Estate, plan.estate_id),
                           **_labels())


@bp.route("/bills/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@needs(Right.BILLS)
def bill_plan_edit(plan_id: int):
    plan = scoped(BillPlan, plan_id)
    estate = db.session.get(Estate, plan.estate_id)
    form, residents = _form(estate)
    if not form.is_submitted():
        form.fill_from(plan)
    elif form.validate_on_submit():
        try:
            estate_bills.update_plan(plan, form.details())
        except estate_bills.BillError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(f"Saved {plan.title}. Bills already issued are unchanged.", "success")
            return redirect(url_for("admin.bill_plan_detail", plan_id=plan.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/bills/plans/form.html", form=form, estate=estate, residents=residents, plan=plan,
                           estate_arg=_estate_arg(estate)), status


def _pause_or_resume(plan_id: int, paused: bool):
    plan = scoped(BillPlan, plan_id)
    if not PlanActionForm().validate_on_submit():
        flash("The form had expired; try again.", "error")
    else:
        try:
            estate_bills.set_paused(plan, paused)
        except estate_bills.BillError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Paused {plan.title}: it issues nothing until resumed." if paused else
                  f"Resumed {plan.title}: its next bills are issued on schedule.", "success")
    return redirect(url_for("admin.bill_plan_detail", plan_id=plan.id))


@bp.route("/bills/plans/<int:plan_id>/pause", methods=["POST"])
@needs(Right.BILLS)
def bill_plan_pause(plan_id: int):
    return _pause_or_resume(plan_id, True)


@bp.route("/bills/plans/<int:plan_id>/resume", methods=["POST"])
@needs(Right.BILLS)
def bill_plan_resume(plan_id: int):
    return _pause_or_resume(plan_id, False)
