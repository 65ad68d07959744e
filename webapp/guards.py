"""Blueprint guards, registered once per blueprint with ``bp.before_request(...)``.

Anonymous visitors are sent to sign in (and brought back); a signed-in person of the wrong kind
gets 404, never 403, so nobody learns that a page they may not see exists.
"""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_login import current_user

from webapp.response_headers import MAX_NEXT_CHARS


def _to_login():
    # Come back to the page after signing in; a query too long to carry back is dropped (and a
    # path too long for that, the whole ``next``) rather than echoed into the Location header.
    target = request.full_path.rstrip("?")
    if len(target) > MAX_NEXT_CHARS:
        target = request.path if len(request.path) <= MAX_NEXT_CHARS else None
    return redirect(url_for("auth.login", next=target))


def require_login():
    if not current_user.is_authenticated:
        return _to_login()
    return None


def require_resident():
    """Residents' own pages: admins have no wallet, accounts or payments of their own."""
    if not current_user.is_authenticated:
        return _to_login()
    if not current_user.is_resident:
        abort(404)
    return None


def require_admin():
    if not current_user.is_authenticated:
        return _to_login()
    if not current_user.is_admin:
        abort(404)
    return None
