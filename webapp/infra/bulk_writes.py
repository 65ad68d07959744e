"""Rows written many at a time: one statement per table at the end of a block.

A batch of payments adds several rows per payment that nothing reads back in the same
transaction: timeline events, audit entries, provider call logs, notifications and outbox
emails, and flags such as an automation's failure count set back to 0. Added one by one
through the ORM, each is a statement of its own (SQLite cannot return
the ids of a multi-row INSERT in order, so SQLAlchemy sends them singly) and costs the unit of
work's bookkeeping. Inside ``deferred()`` those rows are kept in the session instead and written
when the block ends, before the caller commits, with one executemany per table:

    with bulk_writes.deferred():
        for payment in locked:
            lifecycle.record_result(payment, ...)   # adds events, call logs, notifications
    db.session.commit()

Outside a block ``add`` is ``session.add`` and ``insert_once`` inserts at once, so a single
payment, a web request or a test behaves exactly as before. Rows with a ``dedup_key`` keep their
promise either way: ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING`` (the first of two rows with
one key in a block wins, as it would one at a time). A commit while deferred rows are still
waiting raises, so a caller that forgets the order loses nothing silently. Deferred rows belong
to the block, not to a SAVEPOINT: a savepoint rolled back inside the block keeps the rows added
under it, so do not defer rows whose fate hangs on a savepoint.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from webapp.extensions import db

_KEY = "bulk_writes_deferred"
_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
CHUNK = 500  # rows per statement: well under SQLite's limit of bound parameters

# Stands for the id of a row ``insert_once`` deferred (callers test ``is not None``).
DEFERRED = 0


class DeferredRowsNotWritten(RuntimeError):
    """A commit came while rows added in a ``deferred()`` block were still waiting: a bug."""


@dataclass
class _Pending:
    plain: dict[type, list[dict]] = field(default_factory=dict)
    # model -> dedup_key -> (values, called with the new id once the row is written)
    once: dict[type, dict[str, tuple[dict, Callable[[int], None] | None]]] = field(default_factory=dict)
    # (model, the values to set) -> ids of the rows to set them on
    settings: dict[tuple[type, tuple], set[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.plain or self.once or self.settings)


def _pending() -> _Pending | None:
    return db.session.info.get(_KEY)


@contextmanager
def deferred() -> Iterator[None]:
    """Keep the rows ``add`` and ``insert_once`` get inside the block; write them at its end.

    Nested blocks belong to the outermost one. Nothing is written when the block raises (the
    caller rolls back its transaction anyway).
    """
    if _pending() is not None:
        yield
        return
    pending = db.session.info[_KEY] = _Pending()
    try:
        yield
        write(pending)
    finally:
        db.session.info.pop(_KEY, None)


def add(model, values: dict):
    """A new append-only row of ``model``: deferred inside a block (None), else added to the
    session (the new object)."""
    pending = _pending()
    if pending is not None:
        pending.plain.setdefault(model, []).append(values)
        return None
    row = model(**values)
    db.session.add(row)
    return row


def insert_once(model, values: dict, then: Callable[[int], None] | None = None) -> int | None:
    """Insert ``values`` into ``model``'s table unless its ``dedup_key`` exists.

    Outside a block: the new id, or None for a duplicate, and ``then(id)`` once inserted. Inside
    one: ``DEFERRED`` (the row is written, or found to be a duplicate, at the block's end, and
    ``then`` is called for it then). Never raises for a duplicate, so the caller's transaction
    stays usable, and two racing writers (PostgreSQL) produce one row: the second waits for the
    first and then inserts nothing. Other constraint violations still raise.
    """
    pending = _pending()
    if pending is not None:
        pending.once.setdefault(model, {}).setdefault(values["dedup_key"], (values, then))
        return DEFERRED
    new_id = _insert_once_now(model, values)
    if new_id is not None and then is not None:
        then(new_id)
    return new_id


def _insert_once_now(model, values: dict) -> int | None:
    make_insert = _UPSERT.get(db.session.get_bind().dialect.name)
    if make_insert is not None:
        stmt = (make_insert(model).values(**values)
                .on_conflict_do_nothing(index_elements=["dedup_key"]).returning(model.id))
        return db.session.execute(stmt).scalar_one_or_none()
    # Databases without ON CONFLICT: a SAVEPOINT rolled back on the duplicate alone.
    row = model(**values)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        if db.session.scalar(select(model.id).where(model.dedup_key == values["dedup_key"])) is None:
            raise
        return None
    return row.id


def set_where_different(model, row_id: int, **values) -> None:
    """``UPDATE model SET values WHERE id = row_id`` and some of them differ (a row that already
    has them is not written, nor locked). Inside a block, one statement per model and values for
    all the rows given them. A row this session has loaded is set on its object instead (the ORM
    writes it), so the object never goes stale; call ``write_settings`` before reading such a row
    in the block. Not for NULLs."""
    loaded = db.session.identity_map.get(identity_key(model, row_id))
    if loaded is not None:
        for name, value in values.items():
            setattr(loaded, name, value)
        return
    pending = _pending()
    if pending is not None:
        pending.settings.setdefault((model, tuple(sorted(values.items()))), set()).add(row_id)
        return
    _set_where_different(model, [row_id], values)


def write_settings() -> None:
    """Write the block's pending ``set_where_different`` now (before reading rows they touch)."""
    pending = _pending()
    if pending is not None and pending.settings:
        settings, pending.settings = pending.settings, {}
        for (model, values), ids in settings.items():
            _set_where_different(model, sorted(ids), dict(values))  # in id order: PostgreSQL locks them so


def _set_where_different(model, ids: list[int], values: dict) -> None:
    db.session.execute(update(model).where(model.id.in_(ids),
                                           or_(*(getattr(model, name) != value for name, value in values.items())))
                       .values(**values).execution_options(synchronize_session=False))


def write(pending: _Pending) -> None:
    """Write what a block kept: plain rows with one executemany per table, rows with a dedup key
    with multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``."""
    with db.session.no_autoflush:
        write_settings()
        plain, once = pending.plain, pending.once
        pending.plain, pending.once = {}, {}
        for model, rows in plain.items():
            db.session.execute(insert(model), rows)  # ORM bulk INSERT: executemany, column defaults applied
        for model, keyed in once.items():
            make_insert = _UPSERT.get(db.session.get_bind().dialect.name)
            items = list(keyed.values())
            if make_insert is None:
                for values, then in items:
                    new_id = _insert_once_now(model, values)
                    if new_id is not None and then is not None:
                        then(new_id)
                continue
            for start in range(0, len(items), CHUNK):
                chunk = items[start:start + CHUNK]
                stmt = (make_insert(model).values([values for values, _ in chunk])
                        .on_conflict_do_nothing(index_elements=["dedup_key"])
                        .returning(model.id, model.dedup_key))
                written = dict((key, new_id) for new_id, key in db.session.execute(stmt))
                for values, then in chunk:
                    new_id = written.get(values["dedup_key"])
                    if new_id is not None and then is not None:
                        then(new_id)


@event.listens_for(Session, "before_commit")
def _nothing_left_waiting(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released inside the block: nothing commits yet
        return
    pending = session.info.get(_KEY)
    if pending:
        raise DeferredRowsNotWritten("commit inside bulk_writes.deferred() with rows not yet written; "
                                     "commit after the block ends")
