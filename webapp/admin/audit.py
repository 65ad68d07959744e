"""The audit log, read-only: a filterable page and the same filters as CSV. There is no route that
changes or deletes an entry (the model refuses both anyway)."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template, request
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.filter_forms import AuditFilterForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import visible_estate_ids, visible_estates
from webapp.presentation.csv_download import csv_download
from webapp.queries import audit_log
from webapp.request_numbers import parse_page


def _scope() -> list[int] | None:
    # A platform admin also reads entries that belong to no estate (e.g. platform-wide actions).
    return None if current_user.is_platform_admin else visible_estate_ids()


def _form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.validate()
    return form


@bp.route("/audit/")
@needs(Right.READ)
def audit_index():
    form = _form()
    filters = form.filters()
    scope = _scope()
    page = parse_page(request.args.get("page"))
    pagination = audit_log.page(scope, filters, current_user.effective_timezone, page)
    actions, object_types = audit_log.choices(scope)
    estate_names = {e.id: e.name for e in visible_estates()} if current_user.is_platform_admin else {}
    return render_template("admin/audit/index.html", pagination=pagination, form=form, filters=filters,
                           errors=form.messages, actions=actions, object_types=object_types,
                           estate_names=estate_names, role_label=audit_log.role_label)


@bp.route("/audit/export.csv")
@needs(Right.READ)
def audit_export():
    filters = _form().filters()
    # Plain values only: the generator runs after this request's database session is closed.
    scope, timezone = _scope(), current_user.effective_timezone

    return csv_download(audit_log.csv_rows(scope, filters, timezone),
                        f"audit-{datetime.now(UTC).strftime('%Y%m%d')}.csv")
