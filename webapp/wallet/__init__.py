"""The resident's wallet: balance, statement and funding. Guarded once for every route."""
from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("wallet", __name__)


@bp.before_request
def require_resident():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_resident:
        # Admins have no wallet; 404 like any page that is not theirs.
        abort(404)
    return None


from . import routes  # noqa: E402,F401
