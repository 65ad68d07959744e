"""The household page: the owner's members (invite, change a role or limit, remove), accepting an
invitation, and the switch between acting as oneself and acting for a household."""
from flask import Blueprint

from webapp.guards import require_resident

bp = Blueprint("households", __name__)


bp.before_request(require_resident)


from webapp.households import acting, routes  # noqa: E402,F401

# Every request checks the household a member chose (a removed member is switched back at once).
bp.before_app_request(acting.check_choice)
