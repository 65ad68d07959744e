"""The estate admin area: its own blueprint, guarded once for every route."""
from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("admin", __name__)


@bp.before_request
def require_admin():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_admin:
        # 404, not 403: a resident should not learn that the admin area exists.
        abort(404)
    return None


from . import audit, bills, catalogue, metrics, payments, routes  # noqa: E402,F401
