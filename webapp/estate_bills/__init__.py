"""Residents' estate bills: see them and pay them from the wallet.

Guarded once for every route: anonymous visitors sign in first; admins are billed nothing, so
every page here is a 404 to them.
"""
from flask import Blueprint

from webapp.guards import require_resident

bp = Blueprint("estate_bills", __name__)


bp.before_request(require_resident)


from webapp.estate_bills import routes  # noqa: E402,F401
