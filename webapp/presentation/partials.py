"""The page, or one block of it, for HTMX.

A page template names the regions HTMX swaps (``{% block results %}``); an HTMX request gets
that block alone, rendered from the same markup, and everyone else gets the whole page. A history
restore (``HX-History-Restore-Request``, after htmx's history cache missed) also gets the whole
page: htmx puts that answer in place of the entire body.
"""
from __future__ import annotations

from flask import Flask, render_template
from jinja2_fragments.flask import render_block

from webapp.extensions import htmx


def is_partial() -> bool:
    """Whether this request wants a region of a page rather than the whole page."""
    return bool(htmx) and not htmx.history_restore_request


def render(template: str, block: str | None = None, **context) -> str:
    """``block`` of ``template`` when ``is_partial()``; the whole template otherwise."""
    if block is not None and is_partial():
        return render_block(template, block, **context)
    return render_template(template, **context)


VARY = ("HX-Request", "HX-History-Restore-Request")


def register(app: Flask) -> None:
    @app.after_request
    def vary_on_htmx(response):
        # One URL serves a page or a fragment depending on these headers (a history restore sends
        # HX-Request too, and needs the page): caches must tell the answers apart.
        if "Vary" in response.headers:
            response.vary.update(VARY)
        else:  # the usual case, without parsing and re-joining a header set
            response.headers["Vary"] = ", ".join(VARY)
        return response
