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
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import current_app
from redis import Redis, RedisError

from webapp.providers.base import ErrorClass, PaymentErrorType, ProviderError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # longest a waiter sleeps before trying again without a wake-up
KEY_PREFIX = "autopay:provider-slots"

# KEYS[1] holders (sorted set: token -> lease end, ms); ARGV limit, lease ms, then one or more tokens.
# Adds as many of the tokens as there are free slots, in order; returns how many.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = math.min(tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1]), #ARGV - 2)
if n <= 0 then
  return 0
end
local lease = tonumber(ARGV[2])
local members = {}
for i = 1, n do
  members[2 * i - 1] = now + lease
  members[2 * i] = ARGV[i + 2]
end
redis.call('ZADD', KEYS[1], unpack(members))
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)  -- the set outlives its longest lease, no longer
end
return n
"""

# KEYS[1] holders; ARGV token, lease ms. A held slot's lease starts again now; 0 if it had ended.
_RENEW = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
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


class _Slots:
    """``slot()``: a call made inside one slot, given back however the call ends."""

    def acquire(self, operation: str = "") -> str:
        raise NotImplementedError

    def release(self, token: str) -> None:
        raise NotImplementedError

    @contextmanager
    def slot(self, operation: str = "") -> Iterator[None]:
        token = self.acquire(operation)
        try:
            yield
        finally:
            self.release(token)


class ProviderSlots(_Slots):
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
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._count = redis.register_script(_COUNT)

    def try_acquire(self) -> str | None:
        """A holder token if a slot is free now, else None."""
        tokens = self.try_acquire_many(1)
        return tokens[0] if tokens else None

    def try_acquire_many(self, wanted: int) -> list[str]:
        """Up to ``wanted`` holder tokens, as many as slots are free now (one round trip)."""
        tokens = [f"{os.getpid()}-{uuid.uuid4().hex}" for _ in range(wanted)]
        got = int(self._acquire(keys=[self.key], args=[self.limit, self.lease_ms, *tokens]))
        return tokens[:got]

    def renew(self, token: str) -> bool:
        """Start a held slot's lease again (before another call in it); False if it had ended."""
        return bool(self._renew(keys=[self.key], args=[token, self.lease_ms]))

    def wait_for_release(self, seconds: float) -> None:
        """Sleep until some holder releases a slot, or ``seconds`` (at most ``POLL_SECONDS``) pass."""
        self.redis.blpop([self.wake_key], timeout=max(0.01, min(seconds, POLL_SECONDS)))

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
                self.wait_for_release(remaining)
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


class SharedSlots(_Slots):
    """The slots of one provider shared by the calls of one batch (same interface as ``ProviderSlots.slot``).

    A batch knows its calls, so rather than each call taking a slot of its own (a script to take
    it, another to give it back, a Redis poll for every caller that finds none free), the first
    caller takes as many as the batch can use at once (``calls`` still to start, at most
    ``concurrency`` in flight) in one script, and the others find theirs waiting. A slot a
    finished call gives back goes to the batch's next call, its lease started again (so a slot
    never outlives its lease while in use), and back to Redis, for every other worker, as soon
    as the batch has no call left for it. The cap holds: every call in flight is inside a slot
    held in Redis. A call that gets no slot within ``wait_seconds`` raises ``ProviderBusy``, as
    it would alone.
    """

    def __init__(self, slots: ProviderSlots, calls: int, concurrency: int) -> None:
        self._slots = slots
        self._to_start = calls  # calls of the batch that have not got a slot yet
        self._concurrency = max(1, concurrency)
        self._in_use = 0
        self._free: list[str] = []  # held in Redis, for the batch's next calls
        self._leasing = False  # one caller at a time asks Redis (for every call the batch can start)
        self._changed = threading.Condition()

    def _wanted(self) -> int:
        return min(self._to_start, self._concurrency - self._in_use) - len(self._free)

    def acquire(self, operation: str = "") -> str:
        deadline = time.monotonic() + self._slots.wait_seconds
        with self._changed:
            while True:
                if self._free:
                    self._to_start -= 1
                    self._in_use += 1
                    return self._free.pop()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._to_start -= 1  # this call gives up: no slot is kept for it
                    raise ProviderBusy(self._slots.provider, operation,
                                       f"all {self._slots.limit} {self._slots.provider} slots stayed busy for "
                                       f"{self._slots.wait_seconds:g} s")
                if self._leasing:
                    self._changed.wait(min(remaining, POLL_SECONDS))
                    continue
                self._leasing, wanted, tokens, failure = True, max(1, self._wanted()), [], None
                self._changed.release()
                try:
                    tokens = self._slots.try_acquire_many(wanted)
                    if not tokens:
                        self._slots.wait_for_release(remaining)
                except RedisError as exc:
                    failure = exc
                finally:
                    self._changed.acquire()
                    self._leasing = False
                    self._free.extend(tokens)
                    self._changed.notify_all()
                if failure is not None:
                    self._to_start -= 1
                    raise ProviderBusy(self._slots.provider, operation,
                                       f"provider slots unavailable: {type(failure).__name__}") from failure

    def release(self, token: str) -> None:
        with self._changed:
            self._in_use -= 1
            keep = self._wanted() > 0  # the batch has a call to start in it
        if keep:
            try:
                keep = self._slots.renew(token)  # False: its lease ended, so it is no longer ours
            except RedisError:
                keep = False
        if not keep:
            self._slots.release(token)
            return
        with self._changed:
            self._free.append(token)
            self._changed.notify()

    def close(self) -> None:
        """Give back any slot still held (none is, once every call has returned)."""
        with self._changed:
            left, self._free = self._free, []
        for token in left:
            self._slots.release(token)


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


def capped(service: Any, provider: str, shared: SharedSlots | None = None) -> Any:
    """``service`` with purchase and status calls capped per provider (unchanged when the cap is
    off), each call in a slot of its own or, with ``shared``, in one of its batch's."""
    slots = shared or slots_for(provider)
    return service if slots is None else CappedService(service, slots)


@contextmanager
def shared_by_batch(calls: Mapping[str, int], threads: int) -> Iterator[dict[str, SharedSlots]]:
    """``SharedSlots`` for each provider that has a cap, for a batch making ``calls[provider]``
    calls from ``threads`` threads; closed when the batch is done."""
    shared = {provider: SharedSlots(slots, count, min(count, threads)) for provider, count in sorted(calls.items())
              if (slots := slots_for(provider)) is not None}
    try:
        yield shared
    finally:
        for slots in shared.values():
            slots.close()
