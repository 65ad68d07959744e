"""Signed-in sessions that can be revoked and that end by themselves (DESIGN §7).

The session is Flask's signed cookie, so there is no session table to delete rows from. Instead
sign-in writes the user's ``session_version`` and two times into the cookie, and the user loader
(``accept``) takes the cookie only while

- its version still equals ``users.session_version``: bumping the column (logout, a password
  change, an admin's "sign out everywhere") ends every copy of every cookie of that person at once;
- it was used within ``SESSION_IDLE_MINUTES`` and signed in within ``SESSION_MAX_HOURS``.

Flask-Login's remember-me cookie is never set; if one turned up, the session it would rebuild has
no version and is refused like any other.
"""
from __future__ import annotations

import time

from flask import current_app, flash, g, session
from flask_login import login_user, logout_user

from webapp.extensions import db
from webapp.models import User
from webapp.services import audit

VERSION_KEY = "auth_version"
SIGNED_IN_KEY = "auth_signed_in_at"
SEEN_KEY = "auth_seen_at"
# Refresh "last seen" at most this often, so the cookie is not rewritten on every request.
SEEN_EVERY_SECONDS = 60
ENDED_MESSAGE = "Your session has ended; please sign in again."


def start(user: User) -> None:
    """Sign ``user`` in on this browser with a brand-new session.

    Everything in the old session goes, the CSRF token included (flask-wtf keeps it in
    ``session["csrf_token"]``): a token or cookie captured before sign-in is worth nothing after.
    """
    _clear()
    login_user(user)
    now = int(time.time())
    session[VERSION_KEY] = user.session_version
    session[SIGNED_IN_KEY] = now
    session[SEEN_KEY] = now


def end() -> None:
    """Forget the sign-in on this browser (the caller revokes the other sessions if it means to)."""
    logout_user()
    _clear()


def accept(user: User | None) -> User | None:
    """``user`` if this request's session may still act for them, else None with the session ended.

    Called by the user loader on every request that looks at ``current_user``; costs no query
    beyond loading the user.
    """
    if user is None:
        return None
    now = time.time()
    config = current_app.config
    signed_in, seen = session.get(SIGNED_IN_KEY), session.get(SEEN_KEY)
    if (not user.is_active or session.get(VERSION_KEY) != user.session_version
            or not isinstance(signed_in, int) or not isinstance(seen, int)
            or now - signed_in > config["SESSION_MAX_HOURS"] * 3600
            or now - seen > config["SESSION_IDLE_MINUTES"] * 60):
        _clear()
        flash(ENDED_MESSAGE, "info")
        return None
    if now - seen >= SEEN_EVERY_SECONDS:
        session[SEEN_KEY] = int(now)
    return user


def revoke_all(user: User) -> None:
    """End every session of ``user`` from its next request on. The caller commits.

    Done in SQL (``version + 1``) so two revocations at once both count.
    """
    user.session_version = User.session_version + 1
    db.session.flush()


def sign_out_everywhere(user: User, *, by_admin: bool = False) -> None:
    """Revoke every session of ``user`` and commit; an admin's action is audited."""
    before = user.session_version
    revoke_all(user)
    if by_admin:
        audit.record("user.sign_out_everywhere", "user", user.id, estate_id=user.estate_id,
                     before={"session_version": before}, after={"session_version": user.session_version})
    db.session.commit()


def _clear() -> None:
    session.clear()
    g.pop("csrf_token", None)  # flask-wtf caches this request's signed token in g
