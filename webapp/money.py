"""Naira as people type it: text in, integer kobo out, and back again for a form's initial value.

Decimal, never float. Shown amounts (₦1,234.57) are formatted with Babel in ``templating.naira``.
"""
from __future__ import annotations

import re
from decimal import Decimal

from wtforms import StringField

# 5000, 5000.5, 5000.50, 5,000.50 (commas only as thousands separators).
_AMOUNT = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_MAX_CHARS = 30

ENTER_AMOUNT = "Enter an amount in naira, like 5000 or 5,000.50."
NUMBERS_ONLY = "Enter the amount in numbers only, like 5000 or 5,000.50."
ABOVE_ZERO = "Enter an amount greater than ₦0."
TWO_DECIMALS = "Use at most two digits after the decimal point (kobo), like 5000.50."


def parse_naira(text: str | None) -> int:
    """Parse a naira amount typed by a person into integer kobo; ``ValueError`` says what is wrong.

    Decimal, never float; a regex first, because Decimal alone would accept "1e3", "NaN" and
    "Infinity".
    """
    cleaned = (text or "").strip().removeprefix("₦").strip()
    if not cleaned:
        raise ValueError(ENTER_AMOUNT)
    if cleaned.startswith("-"):
        raise ValueError(ABOVE_ZERO)
    if len(cleaned) > _MAX_CHARS or not _AMOUNT.fullmatch(cleaned):
        raise ValueError(NUMBERS_ONLY)
    plain = cleaned.replace(",", "")
    if len(plain.partition(".")[2]) > 2:
        raise ValueError(TWO_DECIMALS)
    kobo = int(Decimal(plain) * 100)  # exact: at most two decimal places
    if kobo <= 0:
        raise ValueError(ABOVE_ZERO)
    return kobo


class NairaField(StringField):
    """A text box for naira whose ``data`` is integer kobo (None when the text is not an amount)."""

    def process_formdata(self, valuelist):
        self.raw_text = valuelist[0] if valuelist else ""
        self.data = None
        self.data = parse_naira(self.raw_text)  # a ValueError becomes this field's error message

    def _value(self):
        return getattr(self, "raw_text", None) or ""


def naira_text(kobo: int | None) -> str:
    """Kobo as the naira a person would type: 500000 -> "5000", 500050 -> "5000.50"."""
    if not kobo:
        return ""
    return f"{kobo // 100}" + (f".{kobo % 100:02d}" if kobo % 100 else "")
