"""Styled error pages; HTMX requests get a short alert instead of a whole page."""
from __future__ import annotations

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError

from webapp.presentation import partials

MESSAGES = {
    400: ("Bad request", "The form could not be processed. Reload the page and try again."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Page not found", "The page you asked for does not exist or is not yours to see."),
    405: ("Not allowed", "That action is not available here."),
    409: ("Already used", "That form was already sent. Start again from the beginning."),
    429: ("Slow down", "Too many requests in a short time. Wait a minute and try again."),
    500: ("Something went wrong", "We could not finish that. No money moved twice; try again shortly."),
}


def render_error(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500])
    if request.path.startswith(("/webhooks/", "/healthz")) or request.accept_mimetypes.best == "application/json":
        return jsonify(error=title, detail=detail or message), code
    return partials.render("errors/error.html", "alert", code=code, title=title, message=detail or message), code


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, "Your form expired or was sent from elsewhere. Reload the page and try again.")

    for code in (400, 403, 404, 405):
        app.register_error_handler(code, lambda exc, code=code: render_error(code))

    @app.errorhandler(429)
    def too_many_requests(exc):
        # A limit declared with its own words (limiter.limit(..., error_message=...)) shows them.
        limit = getattr(exc, "limit", None)
        return render_error(429, exc.description if getattr(limit, "error_message", None) else None)

    @app.errorhandler(500)
    def server_error(exc):
        from webapp.extensions import db

        db.session.rollback()
        return render_error(500)
