"""Fixtures for the provider client tests.

``peer`` is a tiny real HTTP server on 127.0.0.1 that answers whatever a test scripts (HTML,
broken JSON, 429, 503, a held or dropped connection), for the answers the sandbox never gives.
``peer_config`` points every provider at it with short timeouts.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webapp.providers import CatalogueItem, utility_service
from webapp.providers.vtpass import reference_for

from .contract import HOLD, READ_TIMEOUT, pick

PEER_CREDENTIALS = {
    "FLUTTERWAVE_SECRET_KEY": "FLWSECK_TEST-peer-secret-0001",
    "FLUTTERWAVE_SECRET_HASH": "peer-verif-hash-0001",
    "VTPASS_API_KEY": "vtpass-peer-api-key-0001",
    "VTPASS_PUBLIC_KEY": "PK_vtpass_peer_0001",
    "VTPASS_SECRET_KEY": "SK_vtpass_peer_0001",
    "PAYSTACK_SECRET_KEY": "sk_test_peer_secret_0001",
}


@dataclass
class Answer:
    status: int = 200
    body: object = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # read the request, then close the connection without answering

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class Peer:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.default = Answer(body={})
        self.requests: list[Seen] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                peer.requests.append(Seen(self.command, self.path, dict(self.headers), body))
                answer = peer.answers.pop(0) if peer.answers else peer.default
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = answer.payload()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def reply(self, status: int = 200, body: object = b"", **kwargs) -> Peer:
        """Script the next answer (answers queue up; after them the default answer repeats)."""
        self.answers.append(Answer(status=status, body=body, **kwargs))
        return self

    def always(self, status: int = 200, body: object = b"", **kwargs) -> Peer:
        self.default = Answer(status=status, body=body, **kwargs)
        return self

    def reset(self) -> None:
        self.answers.clear()
        self.default = Answer(body={})
        self.requests.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _peer_server():
    server = Peer()
    yield server
    server.stop()


@pytest.fixture
def peer(_peer_server):
    _peer_server.reset()
    yield _peer_server
    _peer_server.reset()


def provider_config(base: str, **overrides) -> dict:
    return {
        "FLUTTERWAVE_BASE_URL": f"{base}/flutterwave/v3",
        "VTPASS_BASE_URL": f"{base}/vtpass/api",
        "PAYSTACK_BASE_URL": f"{base}/paystack",
        "PROVIDER_CONNECT_TIMEOUT": 1.0,
        "PROVIDER_READ_TIMEOUT": 0.3,
        **PEER_CREDENTIALS,
        **overrides,
    }


@pytest.fixture
def peer_config(peer) -> dict:
    return provider_config(peer.url)


@dataclass(frozen=True)
class Item:
    """What the clients need from a catalogue entry (the catalogue model has these attributes)."""

    provider_code: str
    item_code: str
    meter_type: str | None = None


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- contract tests against the sandbox ------------------------------------------------------------

@pytest.fixture
def bills_config(sandbox, sandbox_config) -> dict:
    sandbox.configure(timeout_hold=HOLD)
    return {**sandbox_config, "PROVIDER_READ_TIMEOUT": READ_TIMEOUT}


@pytest.fixture(params=["flutterwave", "vtpass"])
def provider(request) -> str:
    return request.param


@pytest.fixture
def service(provider, bills_config):
    return utility_service(provider, bills_config)


@pytest.fixture
def catalogue(service) -> list[CatalogueItem]:
    return service.get_utility_providers()


@pytest.fixture
def prepaid(catalogue) -> CatalogueItem:
    return pick(catalogue, "electricity", "prepaid")


@pytest.fixture
def postpaid(catalogue) -> CatalogueItem:
    return pick(catalogue, "electricity", "postpaid")


@pytest.fixture
def reference() -> str:
    """Valid for every provider: a VTpass request_id is also a valid Flutterwave reference."""
    return reference_for()
