"""Admin: estate bills (issue, bulk issue, cancel, list with totals), the estate wallet's statement and
each resident's statement of their bills (shown, and emailed to them).

Views parse and render; ``services.estate_bills`` holds the rules and writes the audit rows.
Every bill id goes through ``scoped`` (404 outside the admin's estates).
"""
from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from webapp.admin import bp
from webapp.admin.bill_forms import IssueBillForm, SendStatementForm, StatementFilterForm
from webapp.admin.catalogue_forms import ReasonForm
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.filter_forms import BillFilterForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import scoped, visible_estate_ids, visible_estates
from webapp.models import Bill
from webapp.request_numbers import parse_page
from webapp.services import estate_bills


@bp.route("/bills/")
@needs(Right.READ)
def bills_index():
    estate = chosen_estate()
    args = request.args
    form = BillFilterForm(args)
    form.validate()
    filters = form.filters()
    page = parse_page(args.get("page"))
    estate_ids = [estate.id] if estate is not None else visible_estate_ids()
    pagination, totals = estate_bills.bills_page(estate_ids, page=page, **filters)
    return render_template("admin/bills/index.html", pagination=pagination, totals=totals, filters=filters,
                           estate=estate, estates=visible_estates(), args=args,
                           type_labels=estate_bills.TYPE_LABELS, status_labels=estate_bills.STATUS_LABELS)


@bp.route("/bills/new", methods=["GET", "POST"])
@needs(Right.BILLS)
def bills_new():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.bills_new"), what="issue a bill")
    residents = estate_bills.estate_residents(estate.id)
    form = IssueBillForm()
    form.residents.choices = [SelectChoice(r.id, f"{r.full_name} · {r.email}") for r in residents]
    if form.validate_on_submit():
        try:
            bills = estate_bills.issue_bills(
                estate.id, title=form.title.data, bill_type=form.bill_type.data, amount_kobo=form.amount.data,
                due_date=form.due_date.data, user_ids=form.chosen_ids(), issued_by=current_user)
        except estate_bills.BillError as exc:
            target = {"amount": form.amount, "title": form.title, "bill_type": form.bill_type,
                      "due_date": form.due_date, "residents": form.residents}.get(exc.field or "")
            if target is None:
                flash(exc.message, "error")
            else:
                target.errors = [*target.errors, exc.message]
        else:
            flash(f"Issued {len(bills)} bill{'s' if len(bills) != 1 else ''} for {form.title.data.strip()}; "
                  "each resident has been told.", "success")
            return redirect(url_for("admin.bills_index", estate=estate.id))
    status = 422 if form.errors or request.method == "POST" else 200
    return render_template("admin/bills/new.html", form=form, estate=estate, residents=residents), status


@bp.route("/bills/<int:bill_id>/cancel", methods=["POST"])
@needs(Right.BILLS)
def bills_cancel(bill_id: int):
    bill = scoped(Bill, bill_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("Keep the reason under 255 characters.", "error")
    else:
        try:
            estate_bills.cancel_bill(bill.id, form.reason.data)
        except estate_bills.BillError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Cancelled {bill.title} for {bill.user.full_name}.", "success")
    return redirect(url_for("admin.bills_index", estate=bill.estate_id))


@bp.route("/bills/statement")
@needs(Right.READ)
def bills_statement():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.bills_statement"), what="see the wallet statement")
    residents = estate_bills.statement_residents(estate.id)
    form = StatementFilterForm(request.args)
    form.resident.choices = [SelectChoice(r.id, r.full_name) for r in residents]
    if form.resident.data is not None and form.resident.data not in form.resident.values():
        abort(404)  # another estate's resident (or nobody's): the same answer as a foreign id in a path
    form.validate()
    resident = estate_bills.estate_resident(estate.id, form.resident.data)
    context = {"estate": estate, "estates": visible_estates(), "residents": residents, "form": form,
               "errors": form.messages, "status_labels": estate_bills.STATUS_LABELS}
    if resident is not None:
        send_form = SendStatementForm(formdata=None, resident=resident.id, send_key=secrets.token_urlsafe(24))
        statement = estate_bills.resident_statement(estate, resident)
        return render_template("admin/bills/statement.html", statement=statement, send_form=send_form, **context)
    page = parse_page(request.args.get("page"))
    pagination = estate_bills.estate_statement(estate.id, page=page)
    return render_template("admin/bills/statement.html", pagination=pagination, statement=None,
                           balance_kobo=estate_bills.estate_balance(estate.id), **context)


@bp.route("/bills/statement/send", methods=["POST"])
@needs(Right.BILLS)
def bills_statement_send():
    estate = chosen_estate() or abort(404)
    form = SendStatementForm()
    valid = form.validate_on_submit()
    estate_arg = estate.id if current_user.is_platform_admin else None
    if form.resident.data is None:  # the form names no resident: nothing to send
        flash("Choose a resident whose statement to send.", "error")
        return redirect(url_for("admin.bills_statement", estate=estate_arg))
    resident = estate_bills.estate_resident(estate.id, form.resident.data) or abort(404)
    if not valid:
        flash("The form had expired; nothing was sent. Try again.", "error")
    elif estate_bills.email_statement(estate, resident, form.send_key.data):
        flash(f"Emailed the statement to {resident.full_name} ({resident.email}).", "success")
    else:
        flash("That statement was already sent.", "info")
    return redirect(url_for("admin.bills_statement", resident=resident.id, estate=estate_arg))
