"""Remove secrets before anything from a provider exchange is logged or kept.

Three layers, so a secret stays out even when a provider echoes it somewhere unexpected:
credential headers by name, sensitive body fields by name (card authorization codes, PINs,
card tokens; customer numbers and electricity tokens are masked to their last four digits), and
every configured secret value wherever it appears in text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from webapp.providers.tokens import KCT_KEYS, TOKEN_KEYS, parse_token

MASK = "***"

SECRET_HEADERS = frozenset(
    {"authorization", "api-key", "secret-key", "public-key", "verif-hash", "x-paystack-signature",
     "flutterwave-signature", "cookie", "set-cookie", "proxy-authorization"}
)
# Body fields that let someone charge a card or log in, wherever they appear.
SECRET_FIELDS = frozenset(
    {"authorization_code", "cvv", "cvv2", "pin", "otp", "password", "card_number", "cardno", "pan",
     "secret", "secret_key", "secret_hash", "api_key", "public_key", "signature_key", "access_token"}
)
# Inside a card object a "token" charges the card (unlike an electricity token elsewhere).
CARD_PARENTS = frozenset({"card", "authorization"})
CARD_FIELDS = frozenset({"token", "signature", "bin", "first_6digits"})
# Customer numbers are encrypted at rest in the app, so logs show only the last four digits.
CUSTOMER_FIELDS = frozenset(
    {"customer_id", "customer", "customer_number", "billerscode", "unique_element", "meter_number", "meternumber",
     "smartcard_number", "account_number"}
)
# Electricity tokens are money (encrypted at rest, shown whole only to their owner): call records
# keep the last four digits, wherever in the field's text the provider put the token (key change
# tokens too).
TOKEN_FIELDS = frozenset(key.lower() for key in (*TOKEN_KEYS, *(name for names in KCT_KEYS for name in names)))
_PATTERNS = (
    re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+"),
    re.compile(r"\b(?:sk|pk)_(?:live|test)_[A-Za-z0-9_]+"),
    re.compile(r"\bFLW(?:SECK|PUBK)(?:_TEST)?-[A-Za-z0-9-]+"),
    re.compile(r"\bAUTH_[A-Za-z0-9]{6,}"),  # Paystack authorization codes
)
MAX_TEXT = 2000


def mask_number(value: Any) -> Any:
    text = str(value)
    if len(text) <= 4:
        return MASK
    return f"{MASK}{text[-4:]}"


def mask_token(value: Any) -> Any:
    """``value`` with the electricity token in it (grouped or not) cut to its last four digits."""
    token = parse_token(value)
    if not token:
        return value
    if not isinstance(value, str):
        return mask_number(token)
    spaced = r"[\s-]*".join(re.escape(digit) for digit in token)
    masked = re.sub(spaced, lambda _m: mask_number(token), value)
    return masked if masked != value else mask_number(token)


class Redactor:
    """Knows the configured secret values of one client and scrubs them from anything."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mangle ordinary text; real credentials are far longer.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str, limit: int | None = MAX_TEXT) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        for pattern in _PATTERNS:
            value = pattern.sub(lambda m: f"{m.group(1)} {MASK}" if m.groups() else MASK, value)
        if limit is not None and len(value) > limit:
            value = value[:limit] + "…[truncated]"
        return value

    def body(self, value: Any, parent: str = "") -> Any:
        """A redacted deep copy of a JSON-like value."""
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                name = str(key).lower()
                if name in SECRET_FIELDS or (parent in CARD_PARENTS and name in CARD_FIELDS):
                    out[key] = MASK if item not in (None, "") else item
                elif name in CUSTOMER_FIELDS and isinstance(item, str | int) and not isinstance(item, bool):
                    out[key] = mask_number(item)
                elif name in TOKEN_FIELDS and not isinstance(item, Mapping | list | tuple | bool):
                    out[key] = self.body(mask_token(item), name)
                else:
                    out[key] = self.body(item, name)
            return out
        if isinstance(value, list | tuple):
            return [self.body(item, parent) for item in value]
        if isinstance(value, str):
            return self.text(value, limit=None)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: (MASK if k.lower() in SECRET_HEADERS else self.text(str(v))) for k, v in headers.items()}

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return self.text(url)
        query = [
            (k, mask_number(v) if k.lower() in CUSTOMER_FIELDS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        return self.text(urlunsplit(parts._replace(query=urlencode(query, safe="*"))))
