"""Payment history, detail, CSV export and receipts for residents. Guarded once for every route."""
from flask import Blueprint

from webapp.guards import require_resident

bp = Blueprint("history", __name__)


bp.before_request(require_resident)


from webapp.history import routes  # noqa: E402,F401
