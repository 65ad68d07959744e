"""The metrics page: success, recovery, provider latency and daily volume over a chosen period."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.filter_forms import PeriodForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import visible_estate_ids
from webapp.presentation import charts
from webapp.queries import metrics


@bp.route("/metrics/")
@needs(Right.READ)
def metrics_index():
    timezone = current_user.effective_timezone
    form = PeriodForm(request.args, today=metrics.local_today(timezone))
    form.validate()
    report = metrics.report(form.period(timezone), visible_estate_ids(), all_calls=current_user.is_platform_admin)
    return render_template("admin/metrics/index.html", report=report, form=form, errors=form.messages,
                           chart=charts.volume_chart(report.volume), metrics=metrics)
