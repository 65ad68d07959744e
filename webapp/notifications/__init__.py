"""The notification inbox, preferences and development outbox. Guarded once: any signed-in person."""
from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("notifications", __name__)


@bp.before_request
def require_login():
    # Residents and admins alike get notifications; everything here is scoped to current_user.
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


from . import routes  # noqa: E402,F401
