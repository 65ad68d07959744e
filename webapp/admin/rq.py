"""The RQ dashboard (``rq-dashboard``) under /admin/rq, for platform admins only.

The dashboard is a third-party blueprint with no authentication of its own, so it is registered on
the app with a guard that runs before its own hooks: anonymous → sign in, anyone but a platform
admin → 404 (an estate admin should not learn it exists).

CSRF: the blueprint is *not* exempt from Flask-WTF. Its pages post with jQuery and already send an
``X-CSRFToken`` header taken from a ``_csrf_token`` cookie when one exists, so each dashboard
response sets that cookie to the session's Flask-WTF token (path /admin/rq, SameSite=Strict).
Flask-WTF then checks every POST exactly as it does for our own forms: the token must match the
signed session, which another site can neither read nor send (a custom header from another
origin needs a CORS preflight we never grant). Its one state-changing GET (requeue every failed
job of a queue) is refused; the dashboard's own button uses POST.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

URL_PREFIX = "/admin/rq"
BLUEPRINT = "rq_dashboard"
CSRF_COOKIE = "_csrf_token"  # the name the dashboard's script reads
POST_ONLY = {f"{BLUEPRINT}.requeue_all"}


def init_app(app: Flask) -> None:
    """Mount the dashboard when the app has a Redis to show (every real deployment does)."""
    if not app.config.get("REDIS_URL"):
        return
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config["RQ_DASHBOARD_REDIS_URL"] = app.config["REDIS_URL"]
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 5000)
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    # Per app, first in line: before the dashboard's own hook opens a Redis connection.
    app.before_request_funcs.setdefault(BLUEPRINT, []).insert(0, _platform_admins_only)
    app.after_request_funcs.setdefault(BLUEPRINT, []).append(_csrf_cookie)


def _platform_admins_only():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_platform_admin:
        abort(404)
    if request.endpoint in POST_ONLY and request.method != "POST":
        abort(405)
    return None


def _csrf_cookie(response):
    # Only for the people who may use the dashboard: a 404 must look like any other 404.
    if current_user.is_authenticated and current_user.is_platform_admin:
        response.set_cookie(CSRF_COOKIE, generate_csrf(), path=URL_PREFIX, samesite="Strict", httponly=False,
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response
