"""The metrics page: success, recovery, provider latency and daily volume over a chosen period."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.scope import visible_estate_ids
from webapp.queries import metrics


@bp.route("/metrics/")
def metrics_index():
    period, errors = metrics.parse_period(request.args, current_user.effective_timezone)
    report = metrics.report(period, visible_estate_ids(), all_calls=current_user.is_platform_admin)
    return render_template("admin/metrics/index.html", report=report, errors=errors,
                           chart=metrics.volume_chart(report.volume), metrics=metrics)
