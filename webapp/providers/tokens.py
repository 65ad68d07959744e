"""Find the electricity token and units in whatever shape a provider sends them.

VTpass sends ``purchased_code`` ("Token : 2636 2054 7643 3355 4021"), ``token``, ``mainToken`` or
``Token`` beside ``units``/``mainTokenUnits``; Flutterwave sends ``recharge_token`` and ``extra``
(a string such as "Token: 1234-5678-... Units: 32.5 kWh", or an object), sometimes ``token``.
The token we keep is digits only, without spaces or dashes.

Key change tokens (KCT). A meter whose keys must change (a DisCo's tariff or key revision, or the
STS token-identifier rollover of November 2024) needs two extra 20-digit tokens, KCT1 and KCT2,
typed before the purchase token. VTpass answers them beside the token as ``kct1`` and ``kct2``,
"N/A" when the meter needs none (its IKEDC page, "Prepaid Meter Payment" and requery samples:
https://www.vtpass.com/documentation/ikedc-ikeja-electricity-distribution-company-payment-api/).
Flutterwave's v3 bill references and its Node-v3 SDK (documentation/billPayments.md) document no
key change field at all; the same names are looked for in its ``data`` and ``extra`` object so
that none is dropped if they appear there, and nothing else is guessed.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

TOKEN_KEYS = ("token", "Token", "mainToken", "main_token", "purchased_code", "recharge_token",
              "rechargeToken", "extra", "extras")
# KCT1 first, then KCT2: the order they are typed in (see ``key_change_tokens``).
KCT_KEYS = (("kct1", "KCT1"), ("kct2", "KCT2"))
UNITS_KEYS = ("units", "Units", "mainTokenUnits", "unit", "Unit", "token_units", "units_purchased")

_LABEL = re.compile(r"(?i)\b(?:main\s*)?token\b\s*(?:no\.?|number)?\s*[:=\-]?\s*")
_NEXT_LABEL = re.compile(r"(?i)[;|,\n]|\b[a-z][a-z ]{1,20}\s*:")
_DIGIT_RUN = re.compile(r"\d(?:[\d \t-]*\d)?")
_ONLY_DIGITS = re.compile(r"^[\d \t-]+$")
_UNITS_IN_TEXT = re.compile(r"(?i)\bunits?\b\s*[:=]?\s*(\d+(?:\.\d+)?\s*(?:kwh)?)|(\d+(?:\.\d+)?)\s*kwh\b")
_KCT_LABEL = re.compile(r"(?i)^\s*(?:kct\s*\d|key\s*change\s*token\s*\d?)\s*[:=\-]?\s*")
MIN_TOKEN_DIGITS = 16  # STS prepaid tokens are 20 digits; accept a little less, never a meter number
MIN_BARE_DIGITS = 8


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def parse_token(value: Any) -> str | None:
    """Digits of the token in one field value, or None when it holds no token."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Mapping):
        token, _ = token_and_units(value)
        return token
    if isinstance(value, int | Decimal):
        value = format(value, "f") if isinstance(value, Decimal) else str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    label = _LABEL.search(text)
    if label:
        rest = text[label.end():]
        stop = _NEXT_LABEL.search(rest)
        candidate = rest[: stop.start()] if stop else rest
        digits = _digits(candidate)
        if len(digits) >= MIN_BARE_DIGITS:
            return digits
        text = rest
    if _ONLY_DIGITS.match(text):
        digits = _digits(text)
        return digits if len(digits) >= MIN_BARE_DIGITS else None
    for run in _DIGIT_RUN.findall(text):
        digits = _digits(run)
        if len(digits) >= MIN_TOKEN_DIGITS:
            return digits
    return None


def parse_units(value: Any) -> str | None:
    """Units as the provider wrote them ("24.3 kWh" or "16.4"), or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    text = str(value).strip()
    return text or None


def units_from_text(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    match = _UNITS_IN_TEXT.search(text)
    if not match:
        return None
    return (match.group(1) or f"{match.group(2)} kWh").strip()


def token_and_units(*sources: Any) -> tuple[str | None, str | None]:
    """The first token and units found in the given objects (searched in order, one level deep).

    Each source is a mapping such as a VTpass answer, its ``content`` or ``content.transactions``,
    or a Flutterwave ``data``; a nested ``extra`` object is searched too.
    """
    token: str | None = None
    units: str | None = None
    for source in _expand(sources):
        for key in TOKEN_KEYS:
            if token is None and key in source:
                field = source[key]
                token = parse_token(field)
                if token and units is None:
                    units = units_from_text(field)
        for key in UNITS_KEYS:
            if units is None and key in source:
                units = parse_units(source[key])
    return token, units


def _expand(sources: Iterable[Any]) -> list[Mapping]:
    out: list[Mapping] = []
    for source in sources:
        if isinstance(source, Mapping):
            out.append(source)
            extra = source.get("extra")
            if isinstance(extra, Mapping):
                out.append(extra)
    return out


def parse_key_change_token(value: Any) -> str | None:
    """Digits of one key change token, or None for "N/A", empty or anything shorter than a token."""
    if value is None or isinstance(value, bool | Mapping):
        return None
    digits = _digits(_KCT_LABEL.sub("", str(value)))  # "KCT1 : 1234 ..." keeps the 1 of its label out
    return digits if len(digits) >= MIN_TOKEN_DIGITS else None


def key_change_tokens(*sources: Any) -> tuple[str, ...]:
    """The key change tokens in the given objects, KCT1 then KCT2, or ``()`` when there are none.

    The order is the one they must be entered in: KCT1, then KCT2, then the purchase token (Kaduna
    Electric's statement of 13 July 2023 on radionigeriakaduna.gov.ng: "enter the two KCT (KCT1 &
    KCT2) one at a time on their meter and then the third or last token, which is the energy token").
    """
    found: list[str] = []
    expanded = _expand(sources)
    for names in KCT_KEYS:
        kct = next((parsed for source in expanded for name in names
                    if (parsed := parse_key_change_token(source.get(name))) is not None), None)
        if kct is not None:
            found.append(kct)
    return tuple(found)
