from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.households import acting
from webapp.infra import health
from webapp.main import bp
from webapp.presentation import charts, nav, templating
from webapp.queries import dashboard


@bp.route("/")
@login_required
def index():
    if current_user.is_admin:
        return redirect(url_for("admin.index"))
    if acting.scope().is_member:  # a household's home is its accounts; this page is one's own
        return redirect(url_for("utility_accounts.index"))
    board = dashboard.dashboard(current_user._get_current_object())
    # The page's statement read what the layout would otherwise query or lazy-load for itself.
    nav.remember_unread_count(board.unread_notifications)
    templating.remember_timezone(board.timezone)
    return render_template("main/index.html", board=board, chart=charts.spend_chart(board.spend))


@bp.route("/healthz")
def healthz():
    report = health.check()
    return report.as_dict(), 200 if report.ok else 503
