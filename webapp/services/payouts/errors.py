"""What the payout service refuses, in words for the admin's page."""
from __future__ import annotations


class PayoutRefused(ValueError):
    """Refused before anything was written; ``field`` names the form field it is about, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class GatewayUnavailable(RuntimeError):
    """The gateway could not be asked just now (or is not configured here); nothing was written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
