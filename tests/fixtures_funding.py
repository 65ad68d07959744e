"""Fixtures for wallet funding tests: the app served on a real port, so the sandbox's hosted
checkout can deliver its signed webhook to it, and helpers to start and "pay" a checkout.

    funding_config     sandbox provider settings, with a ₦1 funding minimum (small amounts in tests)
    live_server        the test's ``app`` served by werkzeug in a thread; PUBLIC_BASE_URL points at it
    open_checkout(user, amount_kobo=500_000, gateway="paystack")  a real intent with a sandbox checkout
    pay_checkout(intent, action="pay")   submit the sandbox checkout (webhook first, then the redirect back);
                                returns the return URL the browser would be sent to
    webhooks_lost      make the sandbox post its webhooks to a closed port (for the duration of a test)
    paystack_webhook(reference, ...) / flutterwave_webhook(reference, ...)  a signed event (body, headers)
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
import requests
from werkzeug.serving import make_server

from webapp.extensions import db
from webapp.infra.local_services import free_port
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.services import funding


@pytest.fixture
def funding_config(sandbox_config) -> dict:
    return {**sandbox_config, "FUNDING_MIN_KOBO": 100}


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.port}"
    app.config["PUBLIC_BASE_URL"] = url
    yield url
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def open_checkout(app, live_server):
    def start(user, amount_kobo: int = 500_000, gateway: str = "paystack"):
        from webapp.wallet.routes import return_url

        with app.test_request_context():
            callback = return_url(gateway)
        intent = funding.start_funding(user, amount_kobo, gateway, callback)
        assert intent.checkout_url, intent.failure_reason
        return intent

    return start


@pytest.fixture
def pay_checkout():
    def submit(intent, action: str = "pay") -> str:
        response = requests.post(intent.checkout_url, data={"action": action}, allow_redirects=False, timeout=10)
        assert response.status_code == 303, response.text[:500]
        # The live server wrote behind this session's back: end its transaction so it reads (and may
        # write) the latest state.
        db.session.rollback()
        return response.headers["Location"]

    return submit


@pytest.fixture
def webhooks_lost(sandbox):
    """The sandbox's knobs are reset for the next test by ``sandbox_fresh_state``."""
    sandbox.configure(webhook_base=f"http://127.0.0.1:{free_port()}")


def paystack_webhook(reference: str, event: str = "charge.success", **data) -> tuple[bytes, dict]:
    """A Paystack event naming ``reference``, signed as Paystack signs (HMAC-SHA512 of the raw body)."""
    body = json.dumps({"event": event, "data": {"reference": reference, "status": "success", **data}}).encode()
    key = SANDBOX_CREDENTIALS["PAYSTACK_SECRET_KEY"].encode()
    return body, {"Content-Type": "application/json",
                  "x-paystack-signature": hmac.new(key, body, hashlib.sha512).hexdigest()}


def flutterwave_webhook(reference: str, event: str = "charge.completed", **data) -> tuple[bytes, dict]:
    """A Flutterwave event naming ``reference`` with the ``verif-hash`` header Flutterwave sends."""
    body = json.dumps({"event": event, "data": {"tx_ref": reference, "status": "successful", **data}}).encode()
    return body, {"Content-Type": "application/json", "verif-hash": SANDBOX_CREDENTIALS["FLUTTERWAVE_SECRET_HASH"]}
