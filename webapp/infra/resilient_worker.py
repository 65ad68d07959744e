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

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker

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
        worker = make_worker(started)
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
