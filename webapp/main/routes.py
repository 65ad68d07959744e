from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.infra import health
from webapp.main import bp
from webapp.presentation import charts, nav, page_cache
from webapp.queries import history
from webapp.services import estate_bills


@bp.route("/")
@login_required
def index():
    if current_user.is_admin:
        return redirect(url_for("admin.index"))
    user = current_user._get_current_object()

    def render() -> str:
        board = history.dashboard(user)
        return render_template("main/index.html", board=board, chart=charts.spend_chart(board.spend),
                               open_bills=estate_bills.open_bills(user))

    if not page_cache.enabled():
        return render()
    # One statement tells whether anything on the page changed; most views are served from memory.
    version = history.dashboard_version(user)
    nav.remember_unread_count(version.unread_notifications)
    return page_cache.page("dashboard", version.key, render, store=page_cache.settled(version.newest_change))


@bp.route("/healthz")
def healthz():
    report = health.check()
    return report.as_dict(), 200 if report.ok else 503
