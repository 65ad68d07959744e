"""`flask db upgrade` on an empty database yields exactly the models' schema."""
import uuid
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from webapp import create_app
from webapp.extensions import db
from webapp.models.base import render_alembic_item  # noqa: F401  (same config as the CLI)


@contextmanager
def fresh_database(database_url: str, tmp_path, name: str):
    """An empty database: a new schema on PostgreSQL, a new file on SQLite."""
    if database_url.startswith("postgresql"):
        schema = f"{name}_{uuid.uuid4().hex[:10]}"
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in database_url else "?"
        try:
            yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    else:
        yield f"sqlite:///{tmp_path / f'{name}.db'}"


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    with fresh_database(database_url, tmp_path, "mig") as url:
        yield url


def test_upgrade_from_empty_matches_models(empty_database_url, redis_service):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "REDIS_URL": redis_service.url,
                      "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []


def _checks(url: str) -> dict[str, set[tuple[str, str]]]:
    from sqlalchemy import inspect

    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {(c["name"], " ".join(str(c["sqltext"]).lower().split()))
                    for c in inspector.get_check_constraints(table)}
            for table in inspector.get_table_names() if table != "alembic_version"
        }
    finally:
        engine.dispose()


@pytest.fixture
def second_empty_database_url(database_url, tmp_path):
    with fresh_database(database_url, tmp_path, "models") as url:
        yield url


def test_upgrade_reproduces_every_check_constraint(empty_database_url, second_empty_database_url, redis_service):
    """Autogenerate does not compare CHECK constraints, so compare them here, database to database."""
    config = {"REDIS_URL": redis_service.url, "TESTING": True}
    migrated = create_app({**config, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with migrated.app_context():
        upgrade()
        db.engine.dispose()
    modelled = create_app({**config, "SQLALCHEMY_DATABASE_URI": second_empty_database_url})
    with modelled.app_context():
        db.create_all()
        db.engine.dispose()
    assert _checks(empty_database_url) == _checks(second_empty_database_url)
