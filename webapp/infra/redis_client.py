"""One Redis client per URL and process, configured from the app's ``REDIS_URL`` (RQ, rate limits,
provider slots and health all share it)."""
from __future__ import annotations

from flask import current_app
from redis import Redis

_connections: dict[str, Redis] = {}


def redis_connection(url: str | None = None) -> Redis:
    url = url or current_app.config["REDIS_URL"]
    conn = _connections.get(url)
    if conn is None:
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        _connections[url] = conn
    return conn
