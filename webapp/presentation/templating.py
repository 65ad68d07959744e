"""Jinja filters and globals: money, dates and names of things are formatted in one place."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import parse_pattern
from flask import Flask, current_app, has_request_context, request, url_for
from flask_login import current_user

from webapp.models.catalogue import api_provider_label, utility_label
from webapp.money import babel_locale, naira, whole_naira

_TIMEZONE_KEY = "autopay.timezone"
_FIXED_URLS_KEY = "autopay.fixed_urls"


def remember_timezone(name: str) -> None:
    """A page that already read the viewer's timezone (the dashboard's statement) saves
    ``local_time`` loading the estate to find it."""
    request.environ[_TIMEZONE_KEY] = name


def _viewer_timezone() -> str:
    if has_request_context() and _TIMEZONE_KEY in request.environ:
        return request.environ[_TIMEZONE_KEY]
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.effective_timezone
    return "Africa/Lagos"


def local_time(value: datetime | None, fmt: str = "d MMM yyyy, HH:mm") -> str:
    # What babel.dates.format_datetime does with a pattern, minus parsing the locale's name again
    # on every call (a page of payments formats a time per row; Babel caches parsed patterns).
    if value is None:
        return "—"
    return parse_pattern(fmt).apply(value.astimezone(ZoneInfo(_viewer_timezone())), babel_locale())


def fixed_url(endpoint: str, **values) -> str:
    """``url_for(endpoint, **values)`` for a link whose URL never changes (the layout's navigation,
    its static files), built once per app and mount point: every page links a dozen of them, and
    each ``url_for`` walks the URL map again."""
    urls = current_app.extensions.setdefault(_FIXED_URLS_KEY, {})
    key = (request.script_root, endpoint, *sorted(values.items()))
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return url


def register(app: Flask) -> None:
    app.add_template_global(fixed_url)
    app.add_template_filter(naira)
    app.add_template_filter(whole_naira)
    app.add_template_filter(local_time)
    app.add_template_filter(utility_label)
    app.add_template_filter(api_provider_label)
