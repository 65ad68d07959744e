"""The SQLite database file: private to the account that runs the app, shared safely by its processes.

The file holds every resident's (encrypted) numbers, tokens and password hashes, so it is created
0600 in a folder created 0700, before SQLAlchemy first opens it (an empty file is an empty SQLite
database). SQLite gives its -wal and -shm files the database file's permissions. A file left
readable by others by an older version is tightened at start.

Web processes, workers and commands share the file without "database is locked": see ``tune``.
"""
from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import click
from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def sqlite_path(uri: str, instance_path: str) -> Path | None:
    """The file a ``sqlite://`` URI names (relative paths are in the instance folder, as
    Flask-SQLAlchemy reads them), or None for any other database or an in-memory one."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    path = Path(database)
    return path if path.is_absolute() else Path(instance_path) / path


def prepare(uri: str, instance_path: str) -> Path | None:
    """Create the database's folder and file privately when missing; tighten an existing file."""
    path = sqlite_path(uri, instance_path)
    if path is None:
        return None
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=FOLDER_MODE, exist_ok=True)
        os.chmod(path.parent, FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for file in (path, *(path.with_name(path.name + suffix) for suffix in COMPANION_SUFFIXES)):
        _tighten(file)
    return path


def _tighten(file: Path) -> None:
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        os.chmod(file, mode & 0o700)
    except PermissionError:
        log.warning("%s is readable by other users (mode %o) and is not ours to change", file, mode)


# --- several processes, one file ------------------------------------------------------------------

BUSY_TIMEOUT_MS = 30_000
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
NEUTRAL_VERBS = frozenset({"SAVEPOINT", "RELEASE", "ROLLBACK"})  # take no snapshot of their own
WRITE, READ = "write", "read"
_declared: ContextVar[str | None] = ContextVar("sqlite_declared", default=None)
_WATCH, _HAS_READ = "sqlite_read_only_transaction", "sqlite_read_only_transaction_has_read"
_IMMEDIATE, _WROTE = "sqlite_holds_the_write_lock", "sqlite_transaction_wrote"


class ReadOnlyTransactionWrote(RuntimeError):
    """A read-only scope (a page view, ``reading()``) wrote after reading, without the write lock."""


@contextmanager
def _declare(kind: str) -> Iterator[None]:
    token = _declared.set(kind)
    try:
        yield
    finally:
        _declared.reset(token)


def writing():
    """Transactions begun inside take the write lock at BEGIN (every RQ job runs inside one)."""
    return _declare(WRITE)


def reading():
    """Transactions begun inside only read: they begin deferred, so one may stay open across a
    provider call without holding up every writer. A write after a read in one raises
    ``ReadOnlyTransactionWrote``; end the transaction (commit/rollback) before writing."""
    return _declare(READ)


def writes_on_get(view: Callable) -> Callable:
    """Mark a view that writes on GET (a payment gateway's return page): on SQLite its transactions
    take the write lock at BEGIN like a POST's. Put it below ``@bp.route``."""
    view.writes_on_get = True
    return view


def _read_only_scope() -> bool:
    """Inside ``reading()``, or a GET/HEAD/OPTIONS request to a view not marked ``writes_on_get``."""
    declared = _declared.get()
    if declared is not None:
        return declared == READ
    if not has_request_context() or request.method not in READ_ONLY_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return not getattr(view, "writes_on_get", False)


def takes_write_lock() -> bool:
    """Whether a transaction beginning now may write, so must take the write lock at its BEGIN.

    Yes inside ``writing()`` (RQ jobs), in a web request other than GET/HEAD/OPTIONS or to a view
    marked ``writes_on_get``, and in a ``flask`` command other than ``shell``. No inside
    ``reading()``, for page views, and for anything else (the shell, tests' own sessions,
    scripts): those read a snapshot and block nobody, so an idle one never holds up the workers.
    """
    declared = _declared.get()
    if declared is not None:
        return declared == WRITE
    if has_request_context():
        return not _read_only_scope()
    command = click.get_current_context(silent=True)
    return command is not None and command.command.name != "shell"


def release_write_lock(session) -> None:
    """End a request's transaction that still holds the write lock (a POST view that read something
    after its commit, say ``payment.id`` for the redirect), when the request ends.

    In production the app context's teardown removes the session just after; a test keeps one app
    context (and session) across its requests, so without this the lock would outlive the request
    and every worker would wait on it. Nothing is lost: what a view left uncommitted is discarded
    at teardown in production too. A transaction the test itself began is left alone.

    A transaction that only read is committed without expiring the objects (a test's objects stay
    loaded, as they would have); one that wrote or has writes pending is rolled back."""
    session = session()  # the request's own Session behind the scoped one
    if not session.in_transaction():
        return
    info = session.connection().info
    if not info.get(_IMMEDIATE):
        return
    if info.get(_WROTE) or session.new or session.dirty or session.deleted:
        session.rollback()
        return
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def tune(engine: Engine) -> None:
    """SQLite settings for several processes sharing one file, so none sees "database is locked".

    WAL lets readers and one writer work at once, and the busy timeout makes a writer wait for the
    write lock instead of failing. That covers a transaction that writes first. One that reads
    first and writes later cannot wait: once another connection has committed since its read
    began, SQLite refuses the upgrade to writer at once (SQLITE_BUSY, busy timeout unused). So:

    - a transaction that may write takes the write lock at BEGIN (``BEGIN IMMEDIATE``), queueing
      behind the current writer: RQ jobs, ``flask`` commands, POST/PUT/PATCH/DELETE requests and
      GET views marked ``writes_on_get`` (``takes_write_lock`` says which). Such a transaction
      holds up every other writer until it ends: no provider call inside one (end it first, or
      do the reading in ``reading()``);
    - the rest begins deferred (plain ``BEGIN``): page views and ``reading()`` read a snapshot
      without waiting. A write after a read in one of those raises ``ReadOnlyTransactionWrote``
      every time, not only when a commit happens to come in between.

    pysqlite's own transaction handling is switched off and BEGIN is emitted here (the recipe in
    SQLAlchemy's SQLite notes), so SAVEPOINTs (``begin_nested``) nest inside the real transaction.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        writes = takes_write_lock()
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
        connection.info[_IMMEDIATE] = writes
        connection.info[_WROTE] = False
        connection.info[_WATCH] = not writes and _read_only_scope()
        connection.info[_HAS_READ] = False

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection):
        connection.info[_WATCH] = False
        connection.info[_IMMEDIATE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def on_statement(connection, _cursor, statement, _parameters, context, _executemany):
        words = statement.lstrip()[:16].split(None, 1)
        verb = words[0].upper() if words else ""
        writes = verb in WRITE_VERBS or (context is not None and (context.isinsert or context.isupdate
                                                                   or context.isdelete))
        if writes and connection.info.get(_IMMEDIATE):
            connection.info[_WROTE] = True  # release_write_lock rolls such a transaction back
        # Only while the scope lasts: tests keep one session across requests and their own code.
        if not connection.info.get(_WATCH) or not _read_only_scope():
            return
        if writes:
            if connection.info.get(_HAS_READ):
                where = "sqlite_files.reading()" if _declared.get() == READ else f"{request.method} {request.path}"
                raise ReadOnlyTransactionWrote(
                    f"{where} wrote after reading in a transaction without the write lock; on SQLite that "
                    "fails whenever another connection commits in between. Do not write there, mark the "
                    "view sqlite_files.writes_on_get, or end the transaction before writing.")
            connection.info[_WATCH] = False  # a write first takes the lock with a fresh snapshot: safe
        elif verb not in NEUTRAL_VERBS:
            connection.info[_HAS_READ] = True
