"""The provider sandbox for tests: one server per test session, fresh state for every test using it.

    sandbox          (session) a ``SandboxHandle``: .url, .configure(**knobs), .reset(), .transactions()
    sandbox_config   (function) app settings pointing every provider at the sandbox, for ``config_overrides``

Every test that uses ``sandbox`` (directly or through another fixture) starts with an empty sandbox
and the test knobs below, whatever an earlier test configured. "Timeouts" hold for 2 s, and
clients give up after 1 s, so timeout rows cost about a second. Flutterwave's listing lag is 0 s
(a missing bill is "no record" at once). VTpass's likely-duplicate window
(code 019) is off by default here, so tests may pay the same meter repeatedly; a test of 019 turns
it on with ``sandbox.configure(duplicate_window=30)``.
"""
from __future__ import annotations

import pytest

from webapp.sandbox.runner import provider_settings, start_sandbox

TEST_KNOBS = {
    "latency": 0.0,
    "fault_rate": 0.0,
    "seed": 0,
    "timeout_hold": 2.0,
    "webhook_base": None,
    "webhook_timeout": 3.0,
    "fault_kinds": ["timeout_processed", "timeout_unprocessed", "dropped_processed", "dropped_unprocessed",
                    "unavailable", "rate_limited", "not_processed", "pending"],
    "request_id_window_hours": 24.0,
    "duplicate_window": 0.0,
    "merchant_balance_kobo": None,
    "request_id_today_only": True,
    "clock_offset_seconds": 0.0,
    "flw_listing_items": True,
    "bill_webhooks": True,
    "bill_webhook_delay": 0.2,
    "transfer_settle_seconds": 0.0,
    "transfer_webhooks": True,
}
CLIENT_TIMEOUTS = {"PROVIDER_CONNECT_TIMEOUT": 1.0, "PROVIDER_READ_TIMEOUT": 1.0}
# Flutterwave's bill listing counts as "no record" at once here (production waits out its lag);
# tests of the lag set it back.
SANDBOX_APP_SETTINGS = {**CLIENT_TIMEOUTS, "FLUTTERWAVE_RECORD_LAG_SECONDS": 0.0}


@pytest.fixture(scope="session")
def sandbox():
    handle = start_sandbox(**TEST_KNOBS)
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def sandbox_fresh_state(request):
    """Reset the sandbox and its knobs before each test that uses it (others never start it)."""
    if "sandbox" in request.fixturenames:
        handle = request.getfixturevalue("sandbox")
        handle.configure(**TEST_KNOBS)
        handle.reset()


@pytest.fixture
def sandbox_config(sandbox) -> dict:
    return {**provider_settings(sandbox.url), **SANDBOX_APP_SETTINGS}


@pytest.fixture
def funded(app, sandbox, estate, resident):
    """The resident with a phone, ₦100,000 in the wallet and the sandbox's catalogue synced, ready
    to pay through the real worker (use with ``sandbox_config`` in ``config_overrides``). Some
    modules define a ``funded`` of their own, which takes precedence there."""
    from .payments.helpers import fund, sync_catalogue

    resident.phone = "+2348031234567"
    sync_catalogue(estate.id)
    fund(resident, 100_000_00)
    return resident
