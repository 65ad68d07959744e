"""The resident's wallet: balance, statement and funding. Guarded once for every route."""
from flask import Blueprint

from webapp.guards import require_resident

bp = Blueprint("wallet", __name__)


bp.before_request(require_resident)


from webapp.wallet import routes  # noqa: E402,F401
