"""Redis and RQ queues, configured from the app's REDIS_URL."""
from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

_connections: dict[str, Redis] = {}


def redis_connection(url: str | None = None) -> Redis:
    url = url or current_app.config["REDIS_URL"]
    conn = _connections.get(url)
    if conn is None:
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        _connections[url] = conn
    return conn


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection())
