"""Gateway webhooks. No session and no CSRF token: the signature is the authentication."""
from flask import Blueprint

from webapp.extensions import csrf

bp = Blueprint("webhooks", __name__)
csrf.exempt(bp)

from webapp.webhooks import routes  # noqa: E402,F401
