"""Jinja filters and globals: money, dates and names of things are formatted in one place."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask
from flask_login import current_user

from webapp.models.catalogue import api_provider_label, utility_label
from webapp.money import LOCALE, naira


def local_time(value: datetime | None, fmt: str = "d MMM yyyy, HH:mm") -> str:
    if value is None:
        return "—"
    tz = "Africa/Lagos"
    if current_user and getattr(current_user, "is_authenticated", False):
        tz = current_user.effective_timezone
    return format_datetime(value.astimezone(ZoneInfo(tz)), fmt, locale=LOCALE)


def register(app: Flask) -> None:
    app.add_template_filter(naira)
    app.add_template_filter(local_time)
    app.add_template_filter(utility_label)
    app.add_template_filter(api_provider_label)
