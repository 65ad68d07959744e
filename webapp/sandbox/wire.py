"""HTTP helpers shared by the provider modules: amounts on the wire, auth checks, dropped connections."""
from __future__ import annotations

import contextlib
import hmac
import socket
import time
from datetime import timedelta, timezone
from decimal import Decimal, InvalidOperation

from flask import current_app, request
from flask.json.provider import DefaultJSONProvider

from webapp.providers.amounts import dumps, kobo_to_naira
from webapp.sandbox.state import Seconds, State

try:
    from zoneinfo import ZoneInfo

    LAGOS = ZoneInfo("Africa/Lagos")
except (ImportError, KeyError):  # no tz database: Lagos is UTC+1 all year
    LAGOS = timezone(timedelta(hours=1), "WAT")


def state() -> State:
    return current_app.extensions["sandbox_state"]


def naira(kobo: int) -> int | Decimal:
    """Kobo as a naira JSON number: an int when whole (500), else an exact decimal (13.13), which
    ``SandboxJSON`` writes as the number it is (no float ever holds money here)."""
    return kobo_to_naira(kobo)


class SandboxJSON(DefaultJSONProvider):
    """The sandbox's JSON: ``Decimal`` amounts as exact JSON numbers (Flask's default writes them
    as strings), as Flutterwave and VTpass write naira."""

    def dumps(self, obj, **kwargs) -> str:
        return dumps(obj, allow_floats=True)


def json_bytes(obj) -> bytes:
    """A webhook body, written as ``SandboxJSON`` writes answers."""
    return dumps(obj, allow_floats=True).encode()


def naira_text(kobo: int) -> str:
    """Kobo as the "1000.00" strings VTpass uses."""
    return f"{kobo // 100}.{kobo % 100:02d}"


def naira_display(kobo: int) -> str:
    return f"₦{kobo // 100:,}.{kobo % 100:02d}"


def parse_naira(value) -> int | None:
    """A naira amount from a request (number or string) as kobo; None when it is not a valid amount."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    kobo = amount * 100
    if kobo != kobo.to_integral_value():
        return None
    return int(kobo)


def parse_kobo(value) -> int | None:
    """A Paystack amount (integer kobo, number or digit string); None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and int(text) > 0 else None


def same_secret(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def bearer_ok(expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and same_secret(token.strip(), expected)


def request_body() -> dict:
    """JSON body, or form fields (VTpass accepts both); {} when there is neither."""
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return request.form.to_dict() if request.form else {}


def drop_connection(hold: Seconds):
    """Hold the request, then close the socket without an HTTP answer.

    The client sees its read timeout (if shorter than ``hold``) or a dropped connection. The socket
    is shut down directly (werkzeug or gunicorn), so the server's own attempt to write the returned
    placeholder fails as a dropped connection and nothing valid ever reaches the client.
    """
    if hold > 0:
        time.sleep(hold)
    sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return "", 500, {"X-Sandbox-Dropped": "1"}
