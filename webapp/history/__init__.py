"""Payment history, detail, CSV export and receipts for residents. Guarded once for every route."""
from flask import Blueprint

from webapp.guards import require_resident
from webapp.households.acting import enforce_role

bp = Blueprint("history", __name__)


bp.before_request(require_resident)
bp.before_request(enforce_role)  # what a household member's role allows


from webapp.history import routes  # noqa: E402,F401
