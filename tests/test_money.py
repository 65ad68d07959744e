"""Amounts and times read exactly as Babel writes them, though pages no longer call Babel's general
formatters for each one (money.naira writes from integers; local_time reuses the parsed locale)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from webapp import money
from webapp.money import LOCALE, naira, whole_naira
from webapp.presentation import templating


def babel_naira(kobo: int) -> str:
    return format_currency(Decimal(kobo) / 100, "NGN", locale=LOCALE)


def test_the_locale_has_the_plain_shape_the_fast_path_writes():
    assert money._naira_shape() is not None  # else every amount would quietly go through Babel


@pytest.mark.parametrize("kobo", [0, 1, 5, 99, 100, 101, 123_405, 100_000, 99_999_999, 100_000_000,
                                  10_000_000_000, 987_654_321_012, 2**63 - 1, -1, -99, -100, -250_050, -(2**63)])
def test_naira_reads_like_babel(kobo):
    assert naira(kobo) == babel_naira(kobo)


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_naira_reads_like_babel_for_any_amount(kobo):
    assert naira(kobo) == babel_naira(kobo)


def test_naira_of_nothing_is_a_dash():
    assert naira(None) == "—"


@pytest.mark.parametrize(("kobo", "text"), [(350_000, "₦3,500"), (350_050, "₦3,500.50"), (0, "₦0")])
def test_whole_naira_drops_zero_kobo_only(kobo, text):
    assert whole_naira(kobo) == text


FORMATS = ["d MMM yyyy, HH:mm", "EEE d MMM yyyy, HH:mm", "EEE d MMM, HH:mm", "d MMM yyyy", "d MMM yyyy, HH:mm:ss",
           "d MMM"]
ZONES = ["Africa/Lagos", "Europe/London", "America/New_York", "Asia/Kolkata"]
INSTANTS = [datetime(2025, 1, 1, 0, 0, tzinfo=UTC), datetime(2025, 3, 30, 0, 59, 59, tzinfo=UTC),
            datetime(2025, 6, 15, 23, 30, tzinfo=UTC), datetime(2024, 2, 29, 12, 5, 9, tzinfo=UTC)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("zone", ZONES)
def test_local_time_reads_like_babel_in_the_viewers_timezone(app, fmt, zone):
    with app.test_request_context("/"):
        templating.remember_timezone(zone)
        for instant in INSTANTS:
            expected = format_datetime(instant.astimezone(ZoneInfo(zone)), fmt, locale=LOCALE)
            assert templating.local_time(instant, fmt) == expected


def test_local_time_of_nothing_is_a_dash(app):
    with app.test_request_context("/"):
        assert templating.local_time(None) == "—"
