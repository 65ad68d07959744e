from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from ..services import charts, estate_bills, health, history
from . import bp


@bp.route("/")
@login_required
def index():
    if current_user.is_admin:
        return redirect(url_for("admin.index"))
    board = history.dashboard(current_user)
    return render_template("main/index.html", board=board, chart=charts.spend_chart(board.spend),
                           open_bills=estate_bills.open_bills(current_user))


@bp.route("/healthz")
def healthz():
    report = health.check()
    return report.as_dict(), 200 if report.ok else 503
