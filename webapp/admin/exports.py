"""The accountant's export of an estate for a period: a page with the period's figures, the estate
wallet's ledger and the collections as CSV, and both as one XLSX workbook.

Reading only (``Right.READ``): viewers may export too. The estate is the admin's own, or the one a
platform admin picked (``chosen_estate``: another estate is a 404). Dates that cannot be used
export nothing: the page comes back with the message and what was typed (400 for a download).
"""
from __future__ import annotations

from flask import render_template, request, url_for

from webapp.admin import bp
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.filter_forms import ExportPeriodForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import visible_estates
from webapp.presentation import accountant_files
from webapp.presentation.csv_download import csv_download
from webapp.queries import accountant_export
from webapp.services.estate_bills.bills import estate_today


def _prepared(endpoint: str):
    """(the export, its form, None), or (None, None, the page to answer with instead)."""
    estate = chosen_estate()
    if estate is None:
        return None, None, render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                                           action=url_for(endpoint), what="export the accounts")
    form = ExportPeriodForm(request.args, today=estate_today(estate))
    if not form.validate():
        return None, None, _page(estate, form, None, 200 if endpoint == "admin.exports_index" else 400)
    return accountant_export.export(estate, form.date_from.data, form.date_to.data), form, None


def _page(estate, form, report, status=200):
    return render_template("admin/exports/index.html", estate=estate, estates=visible_estates(), form=form,
                           errors=form.messages, report=report), status


@bp.route("/exports/")
@needs(Right.READ)
def exports_index():
    report, form, answer = _prepared("admin.exports_index")
    if answer is not None:
        return answer
    return _page(report.estate, form, report)


def _download(endpoint: str, build):
    """A file of the period on the form: ``build(report)``, or the form's refusal."""
    report, _form, answer = _prepared(endpoint)
    return answer if answer is not None else build(report)


@bp.route("/exports/ledger.csv")
@needs(Right.READ)
def exports_ledger_csv():
    return _download("admin.exports_ledger_csv", lambda report: csv_download(
        accountant_files.ledger_csv_rows(report), f"{report.name_stem}-ledger.csv"))


@bp.route("/exports/collections.csv")
@needs(Right.READ)
def exports_collections_csv():
    return _download("admin.exports_collections_csv", lambda report: csv_download(
        accountant_files.collections_csv_rows(report), f"{report.name_stem}-collections.csv"))


@bp.route("/exports/accounts.xlsx")
@needs(Right.READ)
def exports_workbook():
    return _download("admin.exports_workbook", accountant_files.workbook_download)
