"""Jinja filters and globals: money and dates are formatted in one place."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency
from flask import Flask
from flask_login import current_user

LOCALE = "en_NG"


def naira(kobo: int | None) -> str:
    """Format integer kobo as naira: 123457 -> ₦1,234.57."""
    if kobo is None:
        return "—"
    return _naira(int(kobo))


@lru_cache(maxsize=8192)
def _naira(kobo: int) -> str:
    # Babel takes ~50 µs per amount; pages show the same amounts again and again, so remember them.
    return format_currency(Decimal(kobo) / 100, "NGN", locale=LOCALE)


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

    @app.after_request
    def vary_on_htmx(response):
        # One URL serves a page or a fragment depending on HX-Request; caches must tell them apart.
        response.vary.add("HX-Request")
        return response
