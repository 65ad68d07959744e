"""Counting the SQL statements one request costs, as a server would run it."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import event

from webapp.extensions import db


@contextmanager
def counted_statements():
    statements: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def fetch(client, path: str):
    """Request ``path`` the way a server would: in its own app context, so with a fresh database
    session and a fresh ``g`` (the test's app context would otherwise lend its cached user and
    identity map). A streamed CSV runs its queries while the body is read, so read it here too."""

    def run():
        response = client.get(path)
        response.get_data()
        return response

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
