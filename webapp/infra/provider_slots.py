"""A cap on concurrent calls to each bills provider, shared by every worker on every machine.

Why: providers rate-limit, and a burst of automation payments (a thousand due at the same minute)
would otherwise open as many connections as there are workers. ``PROVIDER_MAX_CONCURRENCY`` caps
the calls in flight per provider across all worker processes; waiting callers queue in Redis.

How: a counting semaphore in Redis. Each provider has a sorted set of holder tokens scored by the
time their lease ends (Redis server time, so the machines' clocks do not matter). Acquiring is one
Lua script: drop expired holders, then add ours if fewer than the limit hold a slot. A worker
killed while holding a slot frees it when its lease ends, so capacity is never lost for good.
Releasing removes the token and wakes one waiter (waiters BLPOP a wake-up list); waiters also try
again every ``POLL_SECONDS`` so an expired lease is noticed without a wake-up.

A slot that cannot be had within ``PROVIDER_SLOT_WAIT_SECONDS`` raises ``ProviderBusy``, a
transient ``rate_limited`` ``ProviderError`` raised before anything is sent, so the payment
lifecycle retries the purchase later (never "unknown"). Callers must not hold a database
transaction while waiting (the lifecycle commits before every provider call).
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from redis import Redis, RedisError

from webapp.providers.base import ErrorClass, PaymentErrorType, ProviderError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # longest a waiter sleeps before trying again without a wake-up
KEY_PREFIX = "autopay:provider-slots"

# KEYS[1] holders (sorted set: token -> lease end, ms); ARGV token, limit, lease ms. Returns 1 if acquired.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))  -- the set outlives its longest lease, no longer
  end
  return 1
end
return 0
"""

# KEYS[1] holders, KEYS[2] wake-up list; ARGV token, limit, lease ms. Wakes one waiter if the token held a slot.
_RELEASE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
  return 1
end
return 0
"""

# KEYS[1] holders. The number of live holders (expired leases do not count).
_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


class ProviderBusy(ProviderError):
    """No slot for this provider came free in time. Nothing was sent: retry later."""

    def __init__(self, provider: str, operation: str, detail: str) -> None:
        super().__init__(PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT,
                         "The provider is busy right now. We'll try again shortly.",
                         provider=provider, operation=operation, detail=detail)


class ProviderSlots:
    """The counting semaphore of one provider: at most ``limit`` holders at once, everywhere."""

    def __init__(self, redis: Redis, provider: str, *, limit: int, lease_seconds: float,
                 wait_seconds: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.redis = redis
        self.provider = provider
        self.limit = int(limit)
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.wait_seconds = float(wait_seconds)
        self.key = f"{KEY_PREFIX}:{provider}"
        self.wake_key = f"{self.key}:wake"
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._count = redis.register_script(_COUNT)

    def try_acquire(self) -> str | None:
        """A holder token if a slot is free now, else None."""
        token = f"{os.getpid()}-{uuid.uuid4().hex}"
        if self._acquire(keys=[self.key], args=[token, self.limit, self.lease_ms]):
            return token
        return None

    def acquire(self, operation: str = "") -> str:
        """Wait up to ``wait_seconds`` for a slot; ``ProviderBusy`` (transient) when none came free."""
        deadline = time.monotonic() + self.wait_seconds
        try:
            while True:
                token = self.try_acquire()
                if token is not None:
                    return token
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProviderBusy(self.provider, operation, f"all {self.limit} {self.provider} slots "
                                                                 f"stayed busy for {self.wait_seconds:g} s")
                # A release pushes to the wake-up list; a timeout here just means "try again".
                self.redis.blpop([self.wake_key], timeout=max(0.01, min(remaining, POLL_SECONDS)))
        except RedisError as exc:
            raise ProviderBusy(self.provider, operation, f"provider slots unavailable: {type(exc).__name__}") from exc

    def release(self, token: str) -> None:
        """Give the slot back. A failure here is logged, not raised: the lease ends by itself."""
        try:
            self._release(keys=[self.key, self.wake_key], args=[token, self.limit, self.lease_ms])
        except RedisError as exc:
            log.warning("could not release a %s slot (%s); it frees itself when its lease ends",
                        self.provider, type(exc).__name__)

    def holders(self) -> int:
        """How many slots are held now (for tests and operators)."""
        return int(self._count(keys=[self.key]))

    @contextmanager
    def slot(self, operation: str = "") -> Iterator[None]:
        token = self.acquire(operation)
        try:
            yield
        finally:
            self.release(token)


def lease_seconds(config) -> float:
    """How long a slot outlives a silent holder: longer than the slowest call it guards (a status
    check may make two HTTP calls, each up to connect + read timeout), so a live call never loses it."""
    return 2 * (float(config["PROVIDER_CONNECT_TIMEOUT"]) + float(config["PROVIDER_READ_TIMEOUT"])) + 10


def slots_for(provider: str) -> ProviderSlots | None:
    """The app's slots for ``provider``; None when the cap is off (0) or there is no Redis."""
    config = current_app.config
    limit = int(config.get("PROVIDER_MAX_CONCURRENCY") or 0)
    if limit <= 0 or not config.get("REDIS_URL"):
        return None
    from webapp.infra.redis_client import redis_connection

    return ProviderSlots(redis_connection(), provider, limit=limit, lease_seconds=lease_seconds(config),
                         wait_seconds=float(config["PROVIDER_SLOT_WAIT_SECONDS"]))


class CappedService:
    """A bills client whose purchase and status calls each run inside one of the provider's slots."""

    def __init__(self, service: Any, slots: ProviderSlots) -> None:
        self._service = service
        self._slots = slots

    def purchase_utility(self, *args, **kwargs):
        with self._slots.slot("purchase"):
            return self._service.purchase_utility(*args, **kwargs)

    def query_status(self, *args, **kwargs):
        with self._slots.slot("status"):
            return self._service.query_status(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._service, name)


def capped(service: Any, provider: str) -> Any:
    """``service`` with purchase and status calls capped per provider (unchanged when the cap is off)."""
    slots = slots_for(provider)
    return service if slots is None else CappedService(service, slots)
