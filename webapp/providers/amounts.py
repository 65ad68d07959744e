"""Kobo <-> naira at the provider edge, without floats.

Inside the app money is integer kobo. Flutterwave and VTpass speak naira, so the clients convert
here: whole naira go out as JSON integers, anything else as an exact decimal JSON number built
from ``Decimal`` (``dumps``). Answers are parsed with ``parse_float=Decimal`` so no float appears.
"""
from __future__ import annotations

import json
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

KOBO_PER_NAIRA = 100


def kobo_to_naira(kobo: int) -> int | Decimal:
    """Naira for a JSON body: an int for whole naira, else an exact 2-dp Decimal."""
    if isinstance(kobo, bool) or not isinstance(kobo, int):
        raise TypeError(f"amount must be integer kobo, got {type(kobo).__name__}")
    if kobo % KOBO_PER_NAIRA == 0:
        return kobo // KOBO_PER_NAIRA
    return (Decimal(kobo) / KOBO_PER_NAIRA).quantize(Decimal("0.01"))


def naira_to_kobo(value: Any) -> int | None:
    """Integer kobo from a provider's naira value (int, Decimal or numeric string).

    Returns None for missing or unparseable values so callers can decide what absence means.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):  # only if a caller parsed JSON without parse_float=Decimal
        value = repr(value)
    if isinstance(value, str):
        value = value.strip().replace(",", "").removeprefix("₦").removeprefix("NGN").strip()
        if not value:
            return None
    try:
        naira = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not naira.is_finite():
        return None
    return int((naira * KOBO_PER_NAIRA).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def plain_kobo(value: Any) -> int | None:
    """Integer kobo from a provider that already speaks kobo (Paystack)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount != amount.to_integral_value():
        return None
    return int(amount)


def amount_problem(item: Any, amount_kobo: Any) -> str | None:
    """Why ``amount_kobo`` cannot be paid for ``item`` (None when it can).

    Checked before any request: a positive integer, and within the item's bounds when the item
    carries them (the catalogue model does); a fixed-price item takes only its price.
    """
    if isinstance(amount_kobo, bool) or not isinstance(amount_kobo, int) or amount_kobo <= 0:
        return "the amount must be a positive whole number of kobo"
    fixed = getattr(item, "fixed_amount_kobo", None) or 0
    if fixed and amount_kobo != fixed:
        return "this plan has a fixed price"
    low, high = getattr(item, "min_amount_kobo", None), getattr(item, "max_amount_kobo", None)
    if isinstance(low, int) and low and amount_kobo < low:
        return "the amount is below the minimum for this service"
    if isinstance(high, int) and high and amount_kobo > high:
        return "the amount is above the maximum for this service"
    return None


def dumps(obj: Any, *, allow_floats: bool = False) -> str:
    """``json.dumps`` that writes ``Decimal`` values as exact JSON numbers. Floats are refused
    unless ``allow_floats`` (the sandbox's knobs are seconds and probabilities, never money)."""
    marks: dict[str, str] = {}
    salt = uuid.uuid4().hex

    def swap(value: Any) -> Any:
        if isinstance(value, Decimal):
            key = f"__decimal_{salt}_{len(marks)}__"
            marks[key] = format(value, "f")
            return key
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [swap(v) for v in value]
        if isinstance(value, float) and not allow_floats:
            raise TypeError("floats are not allowed in provider request bodies")
        return value

    text = json.dumps(swap(obj), separators=(",", ":"))
    for key, number in marks.items():
        text = text.replace(f'"{key}"', number)
    return text
