"""Blueprint guards, registered once per blueprint with ``bp.before_request(...)``.

Anonymous visitors are sent to sign in (and brought back); a signed-in person of the wrong kind
gets 404, never 403, so nobody learns that a page they may not see exists.
"""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_login import current_user


def _to_login():
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


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
