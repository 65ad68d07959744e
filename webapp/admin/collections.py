"""Admin: an estate's collections for a month (billed, collected, outstanding), its defaulters with
filters, and the defaulters as a CSV download. Reads only (``queries.collections``)."""
from __future__ import annotations

from datetime import date

from flask import render_template, request, url_for
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.filter_forms import CollectionsFilterForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import visible_estates
from webapp.models import Estate
from webapp.presentation import partials
from webapp.presentation.csv_download import csv_download
from webapp.queries import collections
from webapp.services import estate_bills


def _filters(estate: Estate) -> tuple[CollectionsFilterForm, dict, date]:
    today = estate_bills.estate_today(estate)
    form = CollectionsFilterForm(request.args)
    form.validate()
    return form, form.filters(date(today.year, today.month, 1)), today


def _defaulter_args(filters: dict) -> dict:
    return {"through": collections.next_month(filters["month"]), "min_days": filters["min_days"],
            "bill_type": filters["bill_type"]}


@bp.route("/bills/collections")
@needs(Right.READ)
def collections_index():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.collections_index"), what="see collections")
    form, filters, today = _filters(estate)
    totals = collections.period_totals(estate.id, filters["month"], filters["bill_type"])
    defaulters = collections.defaulters(estate.id, today, **_defaulter_args(filters))
    query = {"estate": estate.id if current_user.is_platform_admin else None,
             "month": filters["month"].strftime("%Y-%m"), "min_days": filters["min_days"] or None,
             "type": filters["bill_type"]}
    return partials.render("admin/bills/collections.html", block="results", estate=estate, form=form,
                           filters=filters, totals=totals, defaulters=defaulters, today=today,
                           errors=form.messages, query={k: v for k, v in query.items() if v},
                           estates=visible_estates(), type_labels=estate_bills.TYPE_LABELS)


@bp.route("/bills/collections.csv")
@needs(Right.READ)
def collections_csv():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.collections_index"), what="see collections")
    _form, filters, today = _filters(estate)
    # Plain values only: the rows are read after this request's session has closed.
    estate_id, args = estate.id, _defaulter_args(filters)
    return csv_download(collections.defaulters_csv_rows(estate_id, today, **args),
                        f"defaulters-{filters['month']:%Y-%m}.csv")
