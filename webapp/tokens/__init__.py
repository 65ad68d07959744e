"""The token vault: every electricity token a resident bought, per meter. Guarded once for every route."""
from flask import Blueprint

from webapp.guards import require_resident

bp = Blueprint("tokens", __name__)


bp.before_request(require_resident)


from webapp.tokens import routes  # noqa: E402,F401
