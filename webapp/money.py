"""Naira as people read it. Every amount is integer kobo; this is the one place that turns kobo
into text, so a page, an email, a CSV and a form box never disagree on how ₦5,000.50 looks.

Pure functions with no Flask: services (notification wording), the read side (CSV) and the
presentation layer (the ``naira`` Jinja filter) all import from here.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency

LOCALE = "en_NG"


def naira(kobo: int | None) -> str:
    """For reading: 123457 -> "₦1,234.57"; ``None`` -> "—"."""
    if kobo is None:
        return "—"
    return _formatted(int(kobo))


@lru_cache(maxsize=8192)
def _formatted(kobo: int) -> str:
    # Babel takes ~50 µs per amount; pages show the same amounts again and again, so remember them.
    return format_currency(Decimal(kobo) / 100, "NGN", locale=LOCALE)


def whole_naira(kobo: int) -> str:
    """For a headline: "₦3,500" when there are no kobo, "₦3,500.50" otherwise."""
    if kobo % 100 == 0:
        return format_currency(Decimal(kobo // 100), "NGN", locale=LOCALE, format="¤#,##0", currency_digits=False)
    return naira(kobo)


def naira_plain(kobo: int) -> str:
    """For spreadsheets, without float or symbol: 123405 -> "1234.05", -5 -> "-0.05"."""
    sign = "-" if kobo < 0 else ""
    kobo = abs(kobo)
    return f"{sign}{kobo // 100}.{kobo % 100:02d}"


def naira_input(kobo: int | None) -> str:
    """For a form box, as ``request_numbers.parse_naira`` reads it back: 500000 -> "5000",
    500050 -> "5000.50"; ``None`` -> ""."""
    if kobo is None:
        return ""
    whole, rest = divmod(kobo, 100)
    return f"{whole}.{rest:02d}" if rest else str(whole)
