"""Residents' linked utility accounts (meters, smart cards): list, link, rename, remove.

Guarded once for every route: anonymous visitors sign in first; admins have no utility accounts,
so every page here is a 404 to them.
"""
from flask import Blueprint

from webapp.guards import require_resident
from webapp.households.acting import enforce_role

bp = Blueprint("utility_accounts", __name__)


bp.before_request(require_resident)
bp.before_request(enforce_role)  # what a household member's role allows


from webapp.utility_accounts import routes  # noqa: E402,F401
