"""Jinja filters and globals: money, dates and names of things are formatted in one place."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask, has_request_context, request
from flask_login import current_user

from webapp.models.catalogue import api_provider_label, utility_label
from webapp.money import LOCALE, naira

_TIMEZONE_KEY = "autopay.timezone"


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
    if value is None:
        return "—"
    return format_datetime(value.astimezone(ZoneInfo(_viewer_timezone())), fmt, locale=LOCALE)


def register(app: Flask) -> None:
    app.add_template_filter(naira)
    app.add_template_filter(local_time)
    app.add_template_filter(utility_label)
    app.add_template_filter(api_provider_label)
