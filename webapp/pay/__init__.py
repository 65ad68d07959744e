"""Pay now: choose an account and amount, confirm, then watch the payment finish live."""
from flask import Blueprint

from webapp.guards import require_resident
from webapp.households.acting import enforce_role

bp = Blueprint("pay", __name__)


bp.before_request(require_resident)
bp.before_request(enforce_role)  # what a household member's role allows


from webapp.pay import routes  # noqa: E402,F401
