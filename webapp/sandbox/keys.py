"""Credentials the provider sandbox accepts (public, test-only values).

The app's config names map to the values the sandbox checks, so pointing the app at the sandbox is
``app.config.update(SANDBOX_CREDENTIALS)`` plus the three base URLs (see ``runner.provider_settings``).
"""
from __future__ import annotations

SANDBOX_CREDENTIALS: dict[str, str] = {
    "FLUTTERWAVE_SECRET_KEY": "FLWSECK_TEST-sandbox",
    "FLUTTERWAVE_SECRET_HASH": "sandbox-verif-hash",
    "VTPASS_API_KEY": "vtpass-sandbox-api-key",
    "VTPASS_PUBLIC_KEY": "PK_vtpass_sandbox",
    "VTPASS_SECRET_KEY": "SK_vtpass_sandbox",
    "PAYSTACK_SECRET_KEY": "sk_test_sandbox",
    "TERMII_API_KEY": "termii-sandbox-api-key",
    "TERMII_WEBHOOK_SECRET": "termii-sandbox-secret-key",  # signs its delivery reports
}
