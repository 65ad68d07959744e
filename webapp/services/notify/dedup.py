"""Insert a delivery row at most once per dedup key, inside the caller's transaction."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db

_UPSERT_DIALECTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_once(model, values: dict) -> int | None:
    """Insert ``values`` into ``model``'s table unless its ``dedup_key`` exists; the new id or None.

    ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING`` never raises for a duplicate, so the caller's
    transaction stays usable and two racing writers (PostgreSQL) produce one row: the second waits
    for the first and then inserts nothing. Other constraint violations still raise. Databases
    without that clause fall back to a SAVEPOINT that is rolled back on the duplicate alone.
    """
    dialect = db.session.get_bind().dialect.name
    make_insert = _UPSERT_DIALECTS.get(dialect)
    if make_insert is not None:
        stmt = (make_insert(model).values(**values)
                .on_conflict_do_nothing(index_elements=["dedup_key"]).returning(model.id))
        return db.session.execute(stmt).scalar_one_or_none()
    row = model(**values)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        exists = db.session.scalar(select(model.id).where(model.dedup_key == values["dedup_key"]))
        if exists is None:
            raise
        return None
    return row.id
