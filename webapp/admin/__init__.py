"""The estate admin area: its own blueprint, guarded once for every route."""
from flask import Blueprint

from webapp.guards import require_admin

bp = Blueprint("admin", __name__)


bp.before_request(require_admin)


from webapp.admin import (  # noqa: E402,F401
    audit,
    bill_plans,
    bills,
    catalogue,
    collections,
    metrics,
    payments,
    reconciliation,
    routes,
    sessions,
)
