"""An RQ worker that rides out a Redis outage instead of exiting.

RQ's own loop waits for Redis while it is *waiting* for a job, but a Redis error while it finishes
one (writing the result, the heartbeat, the registries) ends ``Worker.work`` with "found an
unhandled exception, quitting". Under a supervisor that is a restart; under ``make run`` it used to
stop the product. Here the worker waits for Redis to answer again (backoff 0.5 s doubling to 5 s,
a log line each time) and starts a fresh RQ worker on the same queues.

Nothing about the money depends on Redis: a job whose result could not be written has already
committed its work to the database, and what it left half done (a payment still ``created``,
``debited`` or ``submitted``) is what the janitor finishes. RQ's own registries clean up the job
the dead worker held (its ``StartedJobRegistry`` entry expires and is failed), so nothing runs
twice because of the restart; a payment job that does run again finds its payments already final.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.exceptions import StopRequested
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

log = logging.getLogger(__name__)

FIRST_WAIT, LONGEST_WAIT = 0.5, 5.0
RESTART_PAUSE = 1.0
OUTAGE = (RedisConnectionError, RedisTimeoutError)


def wait_for_redis(connection: Redis, *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Block until Redis answers PING; how many tries it took."""
    wait, tries = FIRST_WAIT, 0
    while True:
        tries += 1
        try:
            connection.ping()
            return tries
        except OUTAGE as exc:
            log.warning("Redis unavailable (%s); trying again in %.1f s", type(exc).__name__, wait)
            sleep(wait)
            wait = min(LONGEST_WAIT, wait * 2)


def _is_worker_process(pid: int) -> bool:
    """Whether ``pid`` is a live process of this machine that runs a worker (its command line
    says so: after a reboot the number may belong to anything)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.kill(pid, 0)  # no /proc (not Linux): a live process of that number is taken as the worker
            return True
        return False
    return b"worker" in command


def release_stale_name(connection: Redis, name: str, *, hostname: str | None = None) -> bool:
    """Free the worker name ``name`` when RQ still has it registered to a worker of this machine
    whose process is gone (killed -9, the machine restarted); True if it did.

    RQ refuses a name whose worker never registered its death until that registration expires
    (its ``worker_ttl``, 7 minutes), so a unit restarted under the same name (the README's
    ``--name %H-%i``) would fail over and over. A name another machine holds, or a live process of
    this one, is left alone: that is a real clash, and RQ says so."""
    key = Worker.redis_worker_namespace_prefix + name
    registered_host, pid, death, queues = connection.hmget(key, "hostname", "pid", "death", "queues")
    if death is not None or not connection.exists(key):
        return False
    if registered_host is not None and registered_host.decode() != (hostname or socket.gethostname()):
        return False
    if pid is not None and int(pid) != os.getpid() and _is_worker_process(int(pid)):
        return False
    # A key without hostname or pid is a remnant, not a registration: the heartbeat of a work
    # horse that outlived its worker writes a few fields into a key that had expired or been flushed.
    with connection.pipeline() as pipeline:
        pipeline.srem(Worker.redis_workers_keys, key)
        for queue_name in (queues or b"").decode().split(","):
            if queue_name:
                pipeline.srem(WORKERS_BY_QUEUE_KEY % queue_name, key)
        pipeline.hset(key, "death", "released")
        pipeline.expire(key, 60)
        pipeline.execute()
    log.warning("worker name %s was still registered to process %s, which is gone; taken over", name,
                pid.decode() if pid else "?")
    return True


class StoppableWorker(Worker):
    """An RQ ``Worker`` that remembers it was asked to stop (SIGTERM, SIGINT, a stop command):
    RQ only keeps that in private state, and an idle worker's stop leaves none."""

    stop_was_requested = False

    def request_stop(self, signum, frame):
        self.stop_was_requested = True
        super().request_stop(signum, frame)


def work(make_worker: Callable[[int], StoppableWorker], connection: Redis, *, burst: bool = False,
         with_scheduler: bool = True, logging_level: str = "INFO") -> int:
    """Run ``make_worker(n)``'s ``work()`` until it stops on request (or, with ``burst``, runs
    dry); after one that stopped otherwise (a Redis outage), wait for Redis and run a new one. Returns how
    many workers ran. ``n`` counts the restarts, so a named worker can take a fresh name (RQ
    refuses a name whose earlier worker could not register its death while Redis was away)."""
    started = 0
    while True:
        try:
            worker = make_worker(started)  # RQ's Worker asks Redis for its address as it is made
        except OUTAGE as exc:
            log.warning("could not start a worker (Redis: %s); waiting for Redis", type(exc).__name__)
            wait_for_redis(connection)
            continue
        started += 1
        try:
            worker.work(burst=burst, with_scheduler=with_scheduler, logging_level=logging_level)
        except OUTAGE as exc:  # outside its loop (registering itself, or its teardown): the same remedy
            log.warning("worker %s ended on a Redis error (%s)", worker.name, type(exc).__name__)
        else:
            # RQ's loop ends on a stop request (SIGTERM, Ctrl-C), in burst mode when the queues are
            # empty, or on an exception it only logs (a Redis outage mid-job, most often): only the
            # last is ours to recover from.
            if burst or worker.stop_was_requested:
                return started
        log.warning("worker %s stopped without being asked to (a Redis outage?); starting a new one once "
                    "Redis answers", worker.name)
        wait_for_redis(connection)
        time.sleep(RESTART_PAUSE)  # never a tight loop, whatever stopped it


def run_cron(make_scheduler: Callable[[], object], connection: Redis) -> int:
    """Run ``make_scheduler()``'s ``start()`` (an ``rq.cron.CronScheduler``) until it stops on
    request; after a Redis outage (its loop ends on the first Redis error) wait for Redis and start
    a new one, which enqueues its interval jobs at once, so the relay and the janitor run as soon as
    Redis is back. Returns how many schedulers ran."""
    started = 0
    while True:
        scheduler = make_scheduler()
        started += 1
        try:
            scheduler.start()  # returns on SIGTERM/SIGINT (it handles both)
            return started
        except OUTAGE as exc:
            log.warning("cron scheduler ended on a Redis error (%s); starting a new one once Redis answers",
                        type(exc).__name__)
        try:
            wait_for_redis(connection)
            time.sleep(RESTART_PAUSE)
        except (StopRequested, KeyboardInterrupt):  # its signal handlers stay installed meanwhile
            return started
