"""Residents' linked utility accounts (meters, smart cards): list, link, rename, remove.

Guarded once for every route: anonymous visitors sign in first; admins have no utility accounts,
so every page here is a 404 to them.
"""
from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("utility_accounts", __name__)


@bp.before_request
def require_resident():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_resident:
        abort(404)
    return None


from . import routes  # noqa: E402,F401
