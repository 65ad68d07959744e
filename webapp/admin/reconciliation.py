"""The daily reconciliation with each bills provider: the runs, a run's mismatches, and its CSV.

A run covers every estate, so any admin may open one, but sees only their estates' totals (from
``by_estate``) and mismatches. A platform admin sees the run's own totals, which include the
provider's bills that are none of ours (``unknown_to_us``: no estate), and those rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import or_, select

from webapp.admin import bp
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import visible_estate_ids, visible_estates
from webapp.extensions import db
from webapp.models import ReconciliationMismatch, ReconciliationRun
from webapp.money import naira_plain
from webapp.presentation.csv_download import csv_download
from webapp.queries.history import safe_cell
from webapp.request_numbers import parse_id, parse_page
from webapp.services import reconciliation as recon

KIND_LABELS = {
    recon.LOST: "Provider succeeded, we refunded",
    recon.MISSING: "No provider record",
    recon.AMOUNT: "Amounts differ",
    recon.UNKNOWN_TO_US: "Unknown to us",
}
CSV_HEADER = ["Day", "Provider", "Estate", "Kind", "Our reference", "Provider references", "Our amount (NGN)",
              "Provider amount (NGN)", "Our amount (kobo)", "Provider amount (kobo)", "Our state", "Provider state"]
PER_PAGE = 30


@dataclass(frozen=True)
class Totals:
    ours_count: int = 0
    ours_kobo: int = 0
    theirs_count: int = 0
    theirs_kobo: int = 0
    mismatches: int = 0
    unsettled: int = 0


def totals(run: ReconciliationRun) -> Totals:
    """What the signed-in admin may see of a run's counts and totals."""
    if current_user.is_platform_admin:
        return Totals(run.ours_count, run.ours_kobo, run.theirs_count, run.theirs_kobo, run.mismatch_count,
                      recon.unsettled(run))
    sums = dict.fromkeys(("ours_count", "ours_kobo", "theirs_count", "theirs_kobo", "mismatches",
                          recon.UNSETTLED), 0)
    for estate_id in visible_estate_ids():
        for key, value in (run.by_estate or {}).get(str(estate_id), {}).items():
            if key in sums:
                sums[key] += int(value or 0)
    return Totals(**sums)


def _run_or_404(run_id: int) -> ReconciliationRun:
    run = db.session.get(ReconciliationRun, run_id) if parse_id(run_id) is not None else None
    if run is None:
        abort(404)
    return run


def _mismatches(run: ReconciliationRun) -> list[ReconciliationMismatch]:
    visible = ReconciliationMismatch.estate_id.in_(visible_estate_ids())
    if current_user.is_platform_admin:
        visible = or_(visible, ReconciliationMismatch.estate_id.is_(None))
    return list(db.session.scalars(
        select(ReconciliationMismatch).where(ReconciliationMismatch.run_id == run.id, visible)
        .order_by(ReconciliationMismatch.kind, ReconciliationMismatch.reference)))


def _estate_names() -> dict[int, str]:
    return {e.id: e.name for e in visible_estates()}


@bp.route("/reconciliation/")
@needs(Right.READ)
def reconciliation_index():
    page = parse_page(request.args.get("page"))
    query = select(ReconciliationRun).order_by(ReconciliationRun.day.desc(), ReconciliationRun.api_provider)
    pagination = db.paginate(query, page=max(page, 1), per_page=PER_PAGE, max_per_page=100, error_out=False)
    return render_template("admin/reconciliation/index.html", pagination=pagination,
                           totals={run.id: totals(run) for run in pagination.items})


@bp.route("/reconciliation/<int:run_id>")
@needs(Right.READ)
def reconciliation_detail(run_id: int):
    run = _run_or_404(run_id)
    return render_template("admin/reconciliation/detail.html", run=run, totals=totals(run),
                           mismatches=_mismatches(run), labels=KIND_LABELS,
                           estate_names=_estate_names() if current_user.is_platform_admin else {})


@bp.route("/reconciliation/<int:run_id>.csv")
@needs(Right.READ)
def reconciliation_csv(run_id: int):
    run = _run_or_404(run_id)
    names = _estate_names()
    rows = [CSV_HEADER, *([
        run.day.isoformat(), run.api_provider, safe_cell(names.get(m.estate_id, "") if m.estate_id else ""),
        m.kind, safe_cell(m.reference), safe_cell(m.provider_refs),
        "" if m.our_amount_kobo is None else naira_plain(m.our_amount_kobo),
        "" if m.provider_amount_kobo is None else naira_plain(m.provider_amount_kobo),
        "" if m.our_amount_kobo is None else str(m.our_amount_kobo),
        "" if m.provider_amount_kobo is None else str(m.provider_amount_kobo),
        safe_cell(m.our_status), safe_cell(m.provider_status),
    ] for m in _mismatches(run))]
    return csv_download(rows, f"reconciliation-{run.api_provider}-{run.day.isoformat()}.csv")
