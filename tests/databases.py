"""Databases of their own for one test process or one live stack.

On PostgreSQL a database ``<test db>_<suffix>`` when the role may create one (CI's may), else a
schema of that name in the test database. On Redis a database number of its own.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp.config import normalise_database_url

REDIS_DATABASES = 16  # redis-server's default `databases`


@dataclass
class PrivateDatabase:
    url: str
    drop: Callable[[], None] | None = None


def private_postgres_database(test_url: str, suffix: str) -> PrivateDatabase:
    """A fresh, empty database (or schema) next to ``test_url``; ``drop()`` removes it."""
    base = make_url(normalise_database_url(test_url))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"{base.database}_{suffix}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no CREATEDB privilege: fall back to a schema below
        reason = type(exc).__name__
    else:
        def drop_database():
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        return PrivateDatabase(url=base.set(database=name).render_as_string(hide_password=False), drop=drop_database)
    schema = suffix
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop_schema():
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in test_url else "?"
    warnings.warn(f"using schema {schema!r} (could not create a database: {reason})", stacklevel=2)
    return PrivateDatabase(url=f"{test_url}{sep}options={quote(f'-csearch_path={schema}')}", drop=drop_schema)


def redis_db_number(url: str) -> int:
    return int(urlsplit(url).path.strip("/") or 0)


def redis_url_with_db(url: str, db_number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db_number}"))
