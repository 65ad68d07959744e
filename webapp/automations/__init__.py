"""Residents' automations (recurring payments), their settings and upcoming payments.

Guarded once for every route: anonymous visitors sign in first; admins have no automations, so
every page here is a 404 to them.
"""
from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("automations", __name__)


@bp.before_request
def require_resident():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_resident:
        abort(404)
    return None


from . import routes  # noqa: E402,F401
