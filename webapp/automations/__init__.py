"""Residents' automations (recurring payments), their settings and upcoming payments.

Guarded once for every route: anonymous visitors sign in first; admins have no automations, so
every page here is a 404 to them.
"""
from flask import Blueprint

from webapp.guards import require_resident
from webapp.households.acting import enforce_role

bp = Blueprint("automations", __name__)


bp.before_request(require_resident)
bp.before_request(enforce_role)  # what a household member's role allows


from webapp.automations import routes  # noqa: E402,F401
