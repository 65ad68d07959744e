"""Reuse the local peer server from the provider tests: it serves the documented answers over HTTP."""
from tests.providers.conftest import _peer_server, peer, peer_config  # noqa: F401
