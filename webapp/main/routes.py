from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from ..services import health
from . import bp


@bp.route("/")
@login_required
def index():
    if current_user.is_admin:
        return redirect(url_for("admin.index"))
    return render_template("main/index.html")


@bp.route("/healthz")
def healthz():
    report = health.check()
    return report.as_dict(), 200 if report.ok else 503
