"""Numbers read from a request, in one place: ids, counts, page numbers and naira amounts.

``str.isdigit()`` and ``int()`` accept more than people type: ``"²".isdigit()`` is True yet
``int("²")`` fails, ``int("٣")`` is 3, and a 5,000-digit number is a fine Python int that no
database column can hold. Everything here takes ASCII digits only, of bounded length and value,
and answers None (or a ``ValueError`` with the words to show) for anything else, so an
out-of-range number never reaches the database.

The same rules serve URLs (``StrictIntConverter``, registered as ``int``), query strings (``parse_id``,
``parse_count``, ``parse_page``) and forms (``IdField``, ``CountField``; the naira box,
``webapp.forms.NairaField``, reads with ``parse_naira``). Naira text goes to integer kobo without
floats or ``Decimal`` (``parse_naira``); ``money.naira_input`` writes kobo back as text this reads.
"""
from __future__ import annotations

import re

from werkzeug.routing import BaseConverter, ValidationError
from wtforms import HiddenField

from webapp.money import naira

MAX_ID = 2**31 - 1  # every primary key is an INTEGER column (serial on PostgreSQL)
MAX_PAGE = 100_000
# ₦100,000,000: the most any one amount may be (a payment, a bill, a fee, a cap). Far inside BIGINT.
MAX_AMOUNT_KOBO = 10_000_000_000

_ID = re.compile(r"[0-9]{1,10}")
_WHOLE = re.compile(r"-?[0-9]{1,18}")
# 5000, 5000.5, 5000.50, 5,000.50 (commas only as thousands separators); ASCII digits only.
_AMOUNT = re.compile(r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?")
_MAX_TYPED = 200  # longer text is not an amount anyone typed; refuse it before any matching

ENTER_AMOUNT = "Enter an amount in naira, like 5000 or 5,000.50."
NUMBERS_ONLY = "Enter the amount in numbers only, like 5000 or 5,000.50."
ABOVE_ZERO = "Enter an amount greater than ₦0."
TWO_DECIMALS = "Use at most two digits after the decimal point (kobo), like 5000.50."
CHOOSE_FROM_LIST = "Choose one of the options from the list."


def amount_limit_message(maximum: int = MAX_AMOUNT_KOBO) -> str:
    return f"Enter an amount up to {naira(maximum)}."


# --- whole numbers ----------------------------------------------------------------------------

def parse_count(value, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high`` (ASCII digits, a leading ``-`` only if ``low`` is
    negative), else None. An ``int`` is range-checked as it is; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text) or (text.startswith("-") and low >= 0):
            return None
        number = int(text)
    else:
        return None
    return number if low <= number <= high else None


def parse_id(value) -> int | None:
    """A row id (1 to ``MAX_ID``, ASCII digits), else None: callers answer "not found"."""
    if isinstance(value, str) and not _ID.fullmatch(value.strip()):
        return None
    return parse_count(value, 1, MAX_ID)


def parse_page(value) -> int:
    """A page number from the query string; 1 when it is missing or not a sensible page."""
    return parse_count(value, 1, MAX_PAGE) or 1


def coerce_id(value) -> int:
    """``parse_id`` for a WTForms ``coerce=``: a ``ValueError`` becomes the field's error."""
    number = parse_id(value)
    if number is None:
        raise ValueError(CHOOSE_FROM_LIST)
    return number


# --- naira --------------------------------------------------------------------------------------

def parse_naira(text: str | None, maximum: int = MAX_AMOUNT_KOBO) -> int:
    """Parse a naira amount typed by a person into integer kobo, at most ``maximum``;
    ``ValueError`` says what is wrong.

    A regex of ASCII digits first, then integer arithmetic: ``Decimal`` or ``float`` would accept
    "1e3", "NaN", "٣" and numbers too large for the column.
    """
    cleaned = (text or "").strip().removeprefix("₦").strip()
    if not cleaned:
        raise ValueError(ENTER_AMOUNT)
    if cleaned.startswith("-"):
        raise ValueError(ABOVE_ZERO)
    match = _AMOUNT.fullmatch(cleaned) if len(cleaned) <= _MAX_TYPED else None
    if match is None:
        if len(cleaned) > _MAX_TYPED and cleaned.isascii() and cleaned.replace(",", "").isdecimal():
            raise ValueError(amount_limit_message(maximum))
        raise ValueError(NUMBERS_ONLY)
    whole, fraction = match.group(1).replace(",", "").lstrip("0"), match.group(2) or ""
    if len(fraction) > 2:
        raise ValueError(TWO_DECIMALS)
    if len(whole) > len(str(maximum // 100)):
        raise ValueError(amount_limit_message(maximum))  # decided on length: no int() of huge text
    kobo = int(whole or "0") * 100 + int(fraction.ljust(2, "0"))
    if kobo <= 0:
        raise ValueError(ABOVE_ZERO)
    if kobo > maximum:
        raise ValueError(amount_limit_message(maximum))
    return kobo


# --- form fields -------------------------------------------------------------------------------

class CountField(HiddenField):
    """A whole number from ``low`` to ``high`` carried by a form (``data`` None when empty or
    wrong; a wrong one is also the field's error, with ``message``)."""

    def __init__(self, label=None, validators=None, low: int = 1, high: int = MAX_ID,
                 message: str = CHOOSE_FROM_LIST, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.low, self.high, self.message = low, high, message

    def parse(self, text: str) -> int | None:
        return parse_count(text, self.low, self.high)

    def process_formdata(self, valuelist):
        self.raw_text = (valuelist[0] if valuelist else "") or ""
        self.data = self.parse(self.raw_text)
        if self.raw_text.strip() and self.data is None:
            raise ValueError(self.message)

    def _value(self):
        if getattr(self, "raw_text", None) is not None:
            return self.raw_text
        return "" if self.data is None else str(self.data)


class IdField(CountField):
    """A row id carried by a form (``parse_id``: no sign, at most ten digits, 1 to ``MAX_ID``)."""

    def parse(self, text: str) -> int | None:
        return parse_id(text)


# --- URLs -------------------------------------------------------------------------------------

class StrictIntConverter(BaseConverter):
    """``<int:...>`` in every URL of the app: ASCII digits only, 0 to ``MAX_ID``.

    Werkzeug's own converter matches any Unicode digit (``/pay/٣`` is payment 3) and lets
    ``/pay/99999999999999999999`` through to the database; here both are a 404. Our ``<int:>``
    arguments are row ids (0 is simply not found); 0 stays valid for the RQ dashboard's
    ``instance_number``, which counts from 0.
    """

    regex = _ID.pattern
    weight = 50

    def to_python(self, value: str) -> int:
        number = parse_count(value, 0, MAX_ID) if _ID.fullmatch(value) else None
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def register(app) -> None:
    """Make ``<int:...>`` strict in every route, and refuse NUL bytes in any form or query value
    (no person types one, and PostgreSQL cannot store one); call before any blueprint is registered."""
    app.url_map.converters["int"] = StrictIntConverter
    app.before_request(_refuse_nul_bytes)


def _refuse_nul_bytes():
    from flask import abort, request

    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)  # never parse other bodies here: webhooks read theirs, size-capped
    for values in sources:
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, description="A field contains a character that cannot be used (a NUL byte).")
    return None
