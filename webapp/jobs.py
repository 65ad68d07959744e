"""Background jobs: the named queues, the ``job`` decorator and the app a worker runs jobs in.

A job is a plain function declared with ``@job(PAYMENTS, ...)`` beside the service it runs. Called
directly it runs inside an app context, exactly as an RQ worker runs it; ``func.enqueue(*ids)``
(or ``func.enqueue_at(when, *ids)``) puts it on its queue with the options declared once, here at
the decorator. Jobs receive ids,
never objects, and are enqueued only after the commit that created their rows (STYLE habit 4).

Where jobs live: a job that a service enqueues sits in that service's package (``jobs.py``), so
the service refers to a function, not to a path written as a string. The clock's jobs (sweep,
janitor, reminders, reconciliation) live in ``workers/`` with the table that says when they run.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app
from rq import Queue, Retry
from rq.job import Job

from webapp.extensions import db
from webapp.infra import sqlite_files
from webapp.infra.redis_client import redis_connection

PERIODIC = "periodic"  # the cron process's jobs: few, short, and never stuck behind a burst
PAYMENTS = "payments"  # one purchase each, and the status checks a bill webhook asks for
EMAILS = "emails"  # one outbox row each
QUEUES = (PERIODIC, PAYMENTS, EMAILS)  # the order a worker serves them in

_app: Flask | None = None


def use_app(app: Flask) -> None:
    """Run jobs in this process against an already-built app (``flask worker`` does this)."""
    global _app
    _app = app


def get_app() -> Flask:
    """The app jobs run in: the one ``use_app`` gave, else one built from the environment (a bare
    ``rq worker``)."""
    global _app
    if _app is None:
        from webapp import create_app

        _app = create_app()
    return _app


def _after_fork_in_child() -> None:
    # RQ forks a work horse per job: the child must not share the parent's database sockets.
    if _app is None:
        return
    with _app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def queue(name: str) -> Queue:
    return Queue(name, connection=redis_connection())


@dataclass(frozen=True)
class JobOptions:
    """How a job is queued. ``timeout`` and ``retry_intervals`` may be a config key or a function
    instead of a value, read when the job is queued, so that deployments tune them without code."""

    queue: str
    timeout: int | str = 300
    retry_intervals: Sequence[int] | str | Callable[[], Sequence[int]] | None = None
    result_ttl: int = 3600
    failure_ttl: int = 7 * 86400

    def _setting(self, value):
        if isinstance(value, str):
            return current_app.config[value]
        return value() if callable(value) else value

    def rq_arguments(self) -> dict:
        intervals = list(self._setting(self.retry_intervals) or [])
        return {
            "job_timeout": self._setting(self.timeout),
            "retry": Retry(max=len(intervals), interval=intervals) if intervals else None,
            "result_ttl": self.result_ttl,
            "failure_ttl": self.failure_ttl,
        }


def job(queue_name: str, *, timeout: int | str = 300,
        retry_intervals: Sequence[int] | str | Callable[[], Sequence[int]] | None = None,
        result_ttl: int = 3600, failure_ttl: int = 7 * 86400) -> Callable:
    """Declare a job: the function runs inside the app context and gains ``enqueue`` and
    ``enqueue_many``. Exceptions propagate, so RQ and the janitor see a failed job."""
    options = JobOptions(queue_name, timeout, retry_intervals, result_ttl, failure_ttl)

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            # A context of its own even inside another (tests call jobs from one), so the job's
            # session is removed at its end like a worker's. A job may write: on SQLite each of its
            # transactions takes the write lock at BEGIN (infra/sqlite_files.tune).
            with get_app().app_context(), sqlite_files.writing():
                try:
                    return func(*args, **kwargs)
                finally:
                    db.session.remove()

        run.options = options
        run.enqueue = functools.partial(_enqueue, run)
        run.enqueue_at = functools.partial(_enqueue_at, run)
        run.enqueue_many = functools.partial(_enqueue_many, run)
        return run

    return decorate


def _enqueue(func: Callable, *args, job_id: str | None = None, unique: bool = False) -> Job:
    """Queue one call of ``func``; with ``unique`` RQ refuses a second job of the same id while the
    first waits (``rq.exceptions.DuplicateJobError``)."""
    options: JobOptions = func.options
    return queue(options.queue).enqueue(func, *args, job_id=job_id, unique=unique, **options.rq_arguments())


def _enqueue_at(func: Callable, when: datetime, *args, job_id: str | None = None) -> Job:
    """Queue one call of ``func`` to run at ``when`` (workers run with RQ's scheduler, which moves
    it to the queue then); the same ``job_id`` again replaces the earlier one."""
    options: JobOptions = func.options
    return queue(options.queue).enqueue_at(when, func, *args, job_id=job_id, **options.rq_arguments())


def _enqueue_many(func: Callable, calls: Iterable[tuple[tuple, str | None]]) -> list[Job]:
    """Queue many calls of ``func`` in one Redis round trip; ``calls`` are ``(args, job_id)``."""
    options: JobOptions = func.options
    target = queue(options.queue)
    rq_arguments = options.rq_arguments()
    prepared = [
        target.prepare_data(func, args, job_id=job_id, timeout=rq_arguments["job_timeout"],
                            retry=rq_arguments["retry"], result_ttl=options.result_ttl,
                            failure_ttl=options.failure_ttl)
        for args, job_id in calls
    ]
    return target.enqueue_many(prepared) if prepared else []
