"""Gateway webhooks. No session and no CSRF token: the signature is the authentication."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("webhooks", __name__)
csrf.exempt(bp)

from . import routes  # noqa: E402,F401
