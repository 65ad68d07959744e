"""The per-provider cap on concurrent calls: a Redis semaphore shared by every worker process.

Real Redis, real processes (forked here, killed with SIGKILL), and the real payment lifecycle
against the sandbox for the "busy means retry later, nothing sent" rule.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis

from webapp.extensions import db
from webapp.infra import provider_slots
from webapp.infra.provider_slots import ProviderBusy, ProviderSlots
from webapp.models import ProviderCallLog
from webapp.providers.base import ErrorClass, PaymentErrorType, ProviderError
from webapp.services import payments

from .payments.helpers import entry_count, fund, link, pay, prepaid_entry, reload, sync_catalogue
from .waiting import wait_until

LIMIT = 3
FORK = multiprocessing.get_context("fork")


def slots(url: str, provider: str = "vtpass", *, limit: int = LIMIT, lease: float = 30.0,
          wait: float = 10.0) -> ProviderSlots:
    return ProviderSlots(Redis.from_url(url), provider, limit=limit, lease_seconds=lease, wait_seconds=wait)


def _hammer(url: str, threads: int, rounds: int, full) -> None:
    """In a child process: threads that each take a slot ``rounds`` times and note how many hold one.

    Holders keep their slot until the cap has been filled once (``full``, shared by every process),
    so the test sees the limit reached however the machine schedules them; from then on each slot
    is given back at once while the other threads keep contending for it."""
    def one_thread():
        sem, probe = slots(url), Redis.from_url(url)
        for _ in range(rounds):
            with sem.slot("purchase"):
                live = probe.incr("test:live")
                probe.rpush("test:seen", live)
                if live >= LIMIT:
                    full.set()
                full.wait(5)  # a cap that can never fill still ends: the parent's assertions fail
                probe.decr("test:live")

    workers = [threading.Thread(target=one_thread) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()


def _hold_until_killed(url: str, lease: float, holding) -> None:
    sem = slots(url, limit=1, lease=lease)
    sem.acquire()
    holding.set()
    signal.pause()


@pytest.fixture
def redis_url(app, redis_service) -> str:
    return redis_service.url  # the app fixture has emptied this Redis database


def test_never_more_holders_than_the_limit_across_processes_and_threads(redis_url):
    full = FORK.Event()
    children = [FORK.Process(target=_hammer, args=(redis_url, 4, 3, full)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    assert [c.exitcode for c in children] == [0, 0, 0]
    seen = [int(n) for n in Redis.from_url(redis_url).lrange("test:seen", 0, -1)]
    assert len(seen) == 3 * 4 * 3
    assert max(seen) == LIMIT  # the cap was reached (so it was tested) and never exceeded
    assert slots(redis_url).holders() == 0


def test_a_killed_holders_slot_is_reclaimed_when_its_lease_ends(redis_url):
    holding = FORK.Event()
    # The lease ending is the behaviour under test, on Redis's clock (no test can move it): one
    # second is long enough to kill the holder and look before it ends, short enough to wait out.
    child = FORK.Process(target=_hold_until_killed, args=(redis_url, 1.0, holding), daemon=True)
    child.start()
    assert holding.wait(10), "the child never took its slot"
    os.kill(child.pid, signal.SIGKILL)
    child.join(5)
    sem = slots(redis_url, limit=2, wait=5.0)
    assert sem.acquire()  # a live holder with a long lease keeps the set itself alive
    assert sem.try_acquire() is None  # the dead worker's lease still runs
    started = time.monotonic()
    assert sem.acquire()
    assert time.monotonic() - started < 2.0
    assert sem.holders() == 2


def test_no_slot_in_time_raises_a_transient_rate_limited_error(redis_url):
    sem = slots(redis_url, limit=1, wait=0.3)
    sem.acquire()
    started = time.monotonic()
    with pytest.raises(ProviderBusy) as caught:
        sem.acquire("purchase")
    assert time.monotonic() - started >= 0.3
    err = caught.value
    assert isinstance(err, ProviderError)
    assert err.error_class is ErrorClass.TRANSIENT and err.error_type is PaymentErrorType.RATE_LIMITED
    assert err.provider == "vtpass" and err.operation == "purchase"


def test_a_released_slot_goes_to_a_waiter(redis_url):
    sem = slots(redis_url, limit=1, wait=5.0)
    token = sem.acquire()
    got = []
    waiting = ProviderSlots(Redis.from_url(redis_url, client_name="waiter"), "vtpass", limit=1, lease_seconds=30.0,
                            wait_seconds=5.0)
    waiter = threading.Thread(target=lambda: got.append(waiting.acquire()))
    waiter.start()
    probe = Redis.from_url(redis_url)
    wait_until(lambda: any(c["name"] == "waiter" and c["cmd"] == "blpop" for c in probe.client_list()),
               what="the waiter blocking on the wake-up list")
    assert not got
    sem.release(token)
    waiter.join(5)
    assert got and sem.holders() == 1


def test_each_provider_has_its_own_slots(redis_url):
    slots(redis_url, "vtpass", limit=1).acquire()
    assert slots(redis_url, "flutterwave", limit=1, wait=0.1).try_acquire() is not None


# --- slots shared by the calls of one batch -----------------------------------------------------

class CountingSlots(ProviderSlots):
    """Counts the scripts that take slots."""

    takes = 0

    def try_acquire_many(self, wanted: int) -> list[str]:
        type(self).takes += 1
        return super().try_acquire_many(wanted)


def test_a_batch_takes_the_slots_its_calls_wait_for_in_one_script(redis_url):
    CountingSlots.takes = 0
    sem = CountingSlots(Redis.from_url(redis_url), "vtpass", limit=8, lease_seconds=30.0, wait_seconds=5.0)
    shared = provider_slots.SharedSlots(sem, calls=8, concurrency=8)
    inside, checked, all_in = threading.Barrier(9), threading.Event(), []

    def call():
        with shared.slot("purchase"):
            all_in.append(inside.wait(5))  # every call holds its slot at the same time
            checked.wait(5)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    assert sem.holders() == 8
    checked.set()
    for thread in threads:
        thread.join(5)
    assert len(all_in) == 8
    assert CountingSlots.takes == 1, "the first call takes the slots of all eight"
    shared.close()
    assert sem.holders() == 0, "every slot goes back to Redis once no call of the batch waits"


def test_a_batch_never_has_more_calls_in_flight_than_the_cap_and_hands_slots_on(redis_url):
    sem = slots(redis_url, limit=LIMIT, wait=10.0)
    other_worker = slots(redis_url, limit=LIMIT, wait=10.0)
    held_elsewhere = other_worker.acquire()  # another worker holds one of the three
    shared = provider_slots.SharedSlots(sem, calls=40, concurrency=12)
    live, peak, lock = [0], [0], threading.Lock()

    def call(_):
        with shared.slot("purchase"):
            with lock:
                live[0] += 1
                peak[0] = max(peak[0], live[0])
            time.sleep(0.02)  # a provider call in flight; the other calls contend meanwhile
            with lock:
                live[0] -= 1

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(call, range(40)))
    assert peak[0] == LIMIT - 1, "the batch filled the two free slots, never more"
    shared.close()
    assert sem.holders() == 1, "only the other worker's slot is still held"
    other_worker.release(held_elsewhere)


def test_a_batch_call_that_gets_no_slot_in_time_is_busy_and_leaks_nothing(redis_url):
    holder = slots(redis_url, limit=1)
    token = holder.acquire()
    shared = provider_slots.SharedSlots(slots(redis_url, limit=1, wait=0.3), calls=1, concurrency=1)
    with pytest.raises(ProviderBusy), shared.slot("purchase"):
        pass
    holder.release(token)
    shared.close()
    assert holder.holders() == 0


def test_a_slot_whose_lease_ended_cannot_be_renewed(redis_url):
    sem = slots(redis_url, limit=1, lease=0.2)
    token = sem.acquire()
    assert sem.renew(token)
    wait_until(lambda: sem.holders() == 0, timeout=5, what="the lease to end")
    assert not sem.renew(token), "a slot another worker may now hold is never handed on"


# --- through the payment lifecycle ---------------------------------------------------------------

@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "PROVIDER_MAX_CONCURRENCY": 2,
            "PROVIDER_SLOT_WAIT_SECONDS": 0.3}


@pytest.fixture
def account(app, sandbox, estate, resident):
    sync_catalogue(estate.id)
    fund(resident, 100_000_00)
    return link(resident, prepaid_entry(estate.id, "vtpass"), "1111111111111")


def test_a_busy_provider_sends_nothing_and_the_payment_waits_to_be_retried(account, resident, sandbox, redis_url):
    holders = [provider_slots.slots_for("vtpass").acquire() for _ in range(2)]
    payment = pay(resident, account)
    with pytest.raises(payments.TransientPaymentError):
        payments.process(payment.id)
    payment = reload(payment)
    assert payment.status == "debited" and payment.error_type == "rate_limited"
    assert not [a for a in sandbox.transactions()["attempts"] if a["reference"] == payment.reference]
    assert db.session.query(ProviderCallLog).filter_by(payment_id=payment.id).count() == 0

    for token in holders:
        provider_slots.slots_for("vtpass").release(token)
    payments.submit(payment.id)
    payment = reload(payment)
    assert payment.status == "succeeded" and payment.purchase_attempts == 1  # waiting for a slot sent nothing
    assert entry_count(payment.reference, "debit") == 1
    assert provider_slots.slots_for("vtpass").holders() == 0


def test_a_slot_is_given_back_when_the_provider_refuses(account, resident, estate):
    blocked = link(resident, prepaid_entry(estate.id, "vtpass"), "5000000000000", nickname="Blocked")
    payment = pay(resident, blocked)
    payments.process(payment.id)
    assert reload(payment).status == "failed"
    assert provider_slots.slots_for("vtpass").holders() == 0


def test_the_cap_can_be_turned_off(app):
    app.config["PROVIDER_MAX_CONCURRENCY"] = 0
    assert provider_slots.slots_for("vtpass") is None
