"""Rendered pages kept in memory, keyed by a version of everything they show.

A page's key is built from a *version*: the values its data depends on (a balance, row
counts, the newest ``updated_at`` of each table it reads, the local month...). Any change makes a
new key, so an entry is never served for data that changed, and every process can keep its own
copy: there is nothing to invalidate, old entries just age out (``PAGE_CACHE_SECONDS``) or are
evicted, least recently used first, once they hold ``PAGE_CACHE_MAX_CHARS`` characters.

One change the version cannot see: a transaction that stamped ``updated_at`` before another one
and commits after it leaves the newest timestamp unchanged. So a page is stored only when its
data has been quiet for ``PAGE_CACHE_SETTLE_SECONDS`` (far longer than any of our write
transactions); until then every request renders it afresh. The same window covers clock
differences between the hosts that stamp rows, so those clocks must agree to within it (NTP).

Two things on a page belong to the request, not to the data: the CSRF token (each browser session
has its own) is swapped out for a marker before the page is stored and the current session's
token is put back on the way out; a request with flash messages waiting is rendered afresh, so
the messages show once and are never stored.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from cachetools import TTLCache
from flask import Flask, current_app, session
from flask_wtf.csrf import generate_csrf

_EXTENSION = "autopay.page_cache"
# Escaped user data can never contain "<", so the marker cannot be forged by content.
_CSRF_MARKER = "<csrf-token>"


class _Store:
    """A size-bounded TTL cache shared by the threads of one process."""

    def __init__(self, max_chars: int, seconds: int):
        self._entries: TTLCache[str, str] = TTLCache(maxsize=max_chars, ttl=seconds, getsizeof=len)
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, html: str) -> None:
        if len(html) > self._entries.maxsize:
            return
        with self._lock:
            self._entries[key] = html

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = _Store(app.config["PAGE_CACHE_MAX_CHARS"], app.config["PAGE_CACHE_SECONDS"])


def _store() -> _Store:
    return current_app.extensions[_EXTENSION]


def enabled() -> bool:
    """On unless switched off, or while templates reload under a development server (the cache
    lives in process memory, so a deploy's restart already starts it empty)."""
    app = current_app._get_current_object()
    return app.config["PAGE_CACHE_SECONDS"] > 0 and not app.jinja_env.auto_reload


def clear() -> None:
    """Forget every page this process holds."""
    _store().clear()


def key(name: str, version: Iterable) -> str:
    digest = hashlib.blake2b(repr(tuple(version)).encode(), digest_size=16).hexdigest()
    return f"{name}:{digest}"


def settled(newest_change: datetime | None, now: datetime | None = None) -> bool:
    """Whether data last changed at ``newest_change`` is old enough to be cached."""
    if newest_change is None:
        return True
    now = now or datetime.now(UTC)
    return (now - newest_change).total_seconds() >= current_app.config["PAGE_CACHE_SETTLE_SECONDS"]


def page(name: str, version: Iterable, render: Callable[[], str], *, store: bool = True) -> str:
    """The page for ``version`` from the cache, or ``render()`` (kept for next time when ``store``)."""
    if "_flashes" in session:
        return render()
    cache_key = key(name, version)
    cached = _store().get(cache_key)
    if cached is not None:
        return cached.replace(_CSRF_MARKER, generate_csrf())
    html = render()
    if store:
        _store().put(cache_key, html.replace(generate_csrf(), _CSRF_MARKER))
    return html
