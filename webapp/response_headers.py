"""Security headers on every response, and a last bound on redirect targets.

- Content-Security-Policy: scripts, styles and requests from this site only, no inline script or
  style, no framing, forms sent to this site only (the wallet's fund form also on to the gateway's
  checkout). Templates therefore carry no inline ``<script>``, ``on*=`` handler, ``hx-on``
  or ``style=`` attribute; static/js/app.js does that work, and HTMX runs with eval and its
  injected indicator ``<style>`` switched off (the htmx-config meta tag in base.html).
- HSTS in production only (a development server on http://127.0.0.1 must stay reachable).
- ``Cache-Control: no-store`` on everything a signed-in person sees and on the sign-in pages, so
  a shared computer's back button or a proxy never shows someone's wallet; static files stay
  cacheable.
- A ``Location`` longer than browsers and proxies reliably carry, or whose ``next`` is longer than
  any page of ours, is cut to a safe default instead of echoing a 100 KB query back.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, current_app, request
from flask_login import current_user

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
))
# The wallet's fund form is answered with a redirect to the gateway's hosted checkout, and browsers
# check a form's redirects against form-action too. The checkout's host is the gateway's choice,
# per answer (checkout.paystack.com, checkout.flutterwave.com, their test-mode hosts), so that one
# page may send its form on to any https: origin, and in development to a local sandbox's origin.
CHECKOUT_FORM_ENDPOINTS = frozenset({"wallet.fund"})
GATEWAY_URL_SETTINGS = ("PAYSTACK_BASE_URL", "FLUTTERWAVE_BASE_URL")
# rq-dashboard (mounted at /admin/rq, platform admins only) ships inline scripts and styles and
# loads its own assets; it cannot run under the strict policy, so it gets none from us.
CSP_EXEMPT_PREFIX = "/admin/rq"
HSTS = "max-age=31536000; includeSubDomains"
MAX_LOCATION_CHARS = 2000
MAX_NEXT_CHARS = 512


def bounded_location(location: str, default: str) -> str:
    """``location`` unless it is too long or carries a too-long ``next``; then without the ``next``,
    or ``default`` when still too long."""
    parts = urlsplit(location)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "next" and len(value) > MAX_NEXT_CHARS for name, value in query):
        kept = [(name, value) for name, value in query if name != "next"]
        location = urlunsplit(parts._replace(query=urlencode(kept)))
    return location if len(location) <= MAX_LOCATION_CHARS else default


def content_security_policy() -> str:
    if request.endpoint not in CHECKOUT_FORM_ENDPOINTS:
        return CONTENT_SECURITY_POLICY
    sources = ["'self'", "https:"]
    if current_app.config.get("APP_ENV") != "production":
        for name in GATEWAY_URL_SETTINGS:
            parts = urlsplit(current_app.config.get(name) or "")
            if parts.scheme == "http" and parts.netloc:
                sources.append(f"http://{parts.netloc}")
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", "form-action " + " ".join(dict.fromkeys(sources)))


def _is_static() -> bool:
    return request.endpoint == "static" or (request.blueprint or "").endswith("static")


def _private_page() -> bool:
    return request.blueprint == "auth" or current_user.is_authenticated


def security_headers(response):
    if request.path != CSP_EXEMPT_PREFIX and not request.path.startswith(CSP_EXEMPT_PREFIX + "/"):
        response.headers["Content-Security-Policy"] = content_security_policy()
    if current_app.config.get("APP_ENV") == "production":
        response.headers["Strict-Transport-Security"] = HSTS
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not _is_static() and _private_page():
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    location = response.headers.get("Location")
    if location:
        response.headers["Location"] = bounded_location(location, request.script_root + "/")
    return response


def register(app: Flask) -> None:
    app.after_request(security_headers)
