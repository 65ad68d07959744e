"""Pay now: choose an account and amount, confirm, then watch the payment finish live."""
from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("pay", __name__)


@bp.before_request
def require_resident():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_resident:
        abort(404)
    return None


from . import routes  # noqa: E402,F401
