"""Naira as people read it. Every amount is integer kobo; this is the one place that turns kobo
into text, so a page, an email, a CSV and a form box never disagree on how ₦5,000.50 looks.

Pure functions with no Flask: services (notification wording), the read side (CSV) and the
presentation layer (the ``naira`` Jinja filter) all import from here.
"""
from __future__ import annotations

from decimal import Decimal
from functools import cache

from babel import Locale
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

LOCALE = "en_NG"
CURRENCY = "NGN"


@cache
def babel_locale() -> Locale:
    """``LOCALE`` parsed once, for Babel calls made per row (Babel parses a locale name on each call)."""
    return Locale.parse(LOCALE)


def naira(kobo: int | None) -> str:
    """For reading: 123457 -> "₦1,234.57"; ``None`` -> "—"."""
    if kobo is None:
        return "—"
    kobo = int(kobo)
    shape = _naira_shape()
    if shape is None:
        return _babel_naira(kobo)
    plus, minus, plus_end, minus_end, decimal = shape
    whole, cents = divmod(abs(kobo), 100)
    start, end = (minus, minus_end) if kobo < 0 else (plus, plus_end)
    return f"{start}{whole:,}{decimal}{cents:02d}{end}"


@cache
def _naira_shape() -> tuple[str, str, str, str, str] | None:
    """How the locale writes naira, read from Babel once: prefixes, suffixes and the decimal sign.

    Babel's general formatter costs ~50 µs an amount and pages show dozens, so amounts are written
    with integer arithmetic in the shape Babel would give them (tests/test_money.py holds the two
    equal). ``None`` when the pattern is not the plain grouped-by-three, two-decimals kind this
    handles; then every amount goes through Babel.
    """
    locale = babel_locale()
    pattern = locale.currency_formats["standard"]
    if (pattern.grouping != (3, 3) or pattern.frac_prec != (2, 2) or pattern.int_prec[0] != 1
            or pattern.scale != 0 or pattern.exp_prec is not None
            or get_currency_precision(CURRENCY) != 2 or get_group_symbol(locale) != ","):
        return None
    symbol = get_currency_symbol(CURRENCY, locale)
    (plus, minus), (plus_end, minus_end) = ([part.replace("¤", symbol) for part in pair]
                                            for pair in (pattern.prefix, pattern.suffix))
    return plus, minus, plus_end, minus_end, get_decimal_symbol(locale)


def _babel_naira(kobo: int) -> str:
    return format_currency(Decimal(kobo) / 100, CURRENCY, locale=babel_locale())


def whole_naira(kobo: int) -> str:
    """For a headline: "₦3,500" when there are no kobo, "₦3,500.50" otherwise."""
    if kobo % 100 == 0:
        return format_currency(Decimal(kobo // 100), CURRENCY, locale=babel_locale(), format="¤#,##0",
                               currency_digits=False)
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
