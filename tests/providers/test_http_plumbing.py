"""The shared HTTP session and the "was it ever sent?" rule."""
import hashlib
import hmac
import os

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from webapp.providers import funding_client
from webapp.providers import http as provider_http


def test_one_session_is_shared_within_a_process():
    assert provider_http.shared_session() is provider_http.shared_session()


def test_a_forked_process_gets_its_own_session(monkeypatch):
    parent = provider_http.shared_session()
    monkeypatch.setattr(os, "getpid", lambda: -12345)  # what os.getpid() says in a forked child
    child = provider_http.shared_session()
    assert child is not parent
    assert provider_http.shared_session() is child


def test_connect_timeout_and_refused_connections_were_never_sent():
    assert provider_http._never_sent(requests.exceptions.ConnectTimeout("connect timed out"))
    refused = MaxRetryError(None, "/pay", NewConnectionError(None, "Connection refused"))
    assert provider_http._never_sent(requests.exceptions.ConnectionError(refused))


def test_a_connection_dropped_mid_answer_may_have_been_sent():
    dropped = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
    assert not provider_http._never_sent(requests.exceptions.ConnectionError(dropped))
    assert not provider_http._never_sent(requests.exceptions.ReadTimeout("read timed out"))


def test_paystack_signature_is_hex_hmac_sha512_of_the_raw_body(peer_config):
    client = funding_client("paystack", peer_config)
    body = b'{"event":"charge.success","data":{"reference":"r-1"}}'
    signature = hmac.new(peer_config["PAYSTACK_SECRET_KEY"].encode(), body, hashlib.sha512).hexdigest()
    assert client.verify_webhook(body, {"X-Paystack-Signature": signature}) is True
    assert client.verify_webhook(body, {"x-paystack-signature": signature.upper()}) is True
    assert client.verify_webhook(body + b" ", {"x-paystack-signature": signature}) is False
    assert client.verify_webhook(body, {"x-paystack-signature": signature[:-2]}) is False


def test_flutterwave_webhook_needs_the_configured_hash(peer_config):
    client = funding_client("flutterwave", peer_config)
    assert client.verify_webhook(b"{}", {"Verif-Hash": peer_config["FLUTTERWAVE_SECRET_HASH"]}) is True
    assert client.verify_webhook(b"{}", {"verif-hash": "guess"}) is False


def test_without_a_configured_hash_every_flutterwave_webhook_is_refused(peer_config):
    client = funding_client("flutterwave", {**peer_config, "FLUTTERWAVE_SECRET_HASH": ""})
    assert client.verify_webhook(b"{}", {"verif-hash": ""}) is False
