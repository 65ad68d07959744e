"""The estate admin area: its own blueprint, guarded once for every route: who may enter
(``require_admin``), then what their admin role may do there (``permissions.check_permission``)."""
from flask import Blueprint
from flask_login import current_user

from webapp.admin.permissions import Right, check_permission, may
from webapp.guards import require_admin

bp = Blueprint("admin", __name__)


bp.before_request(require_admin)
bp.before_request(check_permission)


@bp.context_processor
def _rights() -> dict:
    # Templates offer only the actions the admin's role may take (the check above refuses the rest).
    return {"admin_may": lambda right: may(current_user, Right(right))}


from webapp.admin import (  # noqa: E402,F401
    admins,
    audit,
    bill_plans,
    bills,
    catalogue,
    collections,
    exports,
    metrics,
    payments,
    payouts,
    reconciliation,
    routes,
    sessions,
)
