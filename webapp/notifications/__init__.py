"""The notification inbox, preferences and development outbox. Guarded once: any signed-in person."""
from flask import Blueprint

from webapp.guards import require_login

bp = Blueprint("notifications", __name__)


bp.before_request(require_login)


from webapp.notifications import routes  # noqa: E402,F401
