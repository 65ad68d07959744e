"""Residents' estate bills: see them and pay them from the wallet.

Guarded once for every route: anonymous visitors sign in first; admins are billed nothing, so
every page here is a 404 to them.
"""
from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("estate_bills", __name__)


@bp.before_request
def require_resident():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_resident:
        abort(404)
    return None


from . import routes  # noqa: E402,F401
