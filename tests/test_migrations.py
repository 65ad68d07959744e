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


TOKEN = "26362054764333554021"
BEFORE_ENCRYPTED_TOKENS = "2fc0f12b3e73"


def _payment_with_a_plaintext_token(conn) -> None:
    """The smallest estate, resident and paid electricity payment the schema of 2fc0f12b3e73 takes."""
    _estate(conn)
    conn.execute(text("INSERT INTO users (id, estate_id, email, full_name, password_hash, role, is_active, "
                      "failed_login_count, created_at, updated_at) VALUES (1, 1, 'ada@example.com', 'Ada', 'x', "
                      "'resident', TRUE, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    conn.execute(text("INSERT INTO payments (id, reference, user_id, estate_id, kind, amount_kobo, fee_kobo, status, "
                      "purchase_attempts, status_checks, source, details, token, token_checks, created_at, updated_at) "
                      "VALUES (1, 'MIGTOKEN0001', 1, 1, 'utility', 500000, 0, 'succeeded', 1, 0, 'one_off', '{}', "
                      ":token, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"token": TOKEN})


def _upgraded_over(database_url: str, redis_url: str, before: str, seed, read):
    """Upgrade an empty database to ``before``, write rows as that schema holds them (``seed``),
    upgrade to the head, and return what ``read`` finds then (each gets a connection)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url, "TESTING": True})
    with app.app_context():
        upgrade(revision=before)
        with db.engine.begin() as conn:
            seed(conn)
        upgrade()
        with db.engine.connect() as conn:
            found = read(conn)
        db.engine.dispose()
    return found


def _estate(conn) -> None:
    conn.execute(text("INSERT INTO estates (id, name, invite_code, timezone, currency, created_at, updated_at) "
                      "VALUES (1, 'Palm Grove', 'PALM1', 'Africa/Lagos', 'NGN', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))


def test_upgrade_encrypts_the_electricity_tokens_already_stored(empty_database_url, redis_service):
    from webapp.infra import crypto

    def stored_and_read(conn) -> tuple[str, str]:  # (decrypted inside the app: its keys are config)
        stored = conn.execute(text("SELECT token FROM payments WHERE id = 1")).scalar_one()
        return stored, crypto.decrypt(stored)

    stored, read = _upgraded_over(empty_database_url, redis_service.url, BEFORE_ENCRYPTED_TOKENS,
                                  _payment_with_a_plaintext_token, stored_and_read)
    assert TOKEN not in stored
    assert read == TOKEN


BEFORE_ENTRY_ORIGINS = "5c2d8e1f7a90"


def _entries_of_every_kind(conn) -> None:
    """Catalogue entries as the schema of 5c2d8e1f7a90 holds them: synced, and typed in by an admin."""
    _estate(conn)
    rows = [  # id, item_code, last synced, retired, active
        (1, "synced", True, False, True),  # a sync added it
        (2, "typed", False, False, True),  # never written by a sync: typed in
        (3, "typed-then-synced", True, False, True),  # typed in (audited), then a sync matched its key
        (4, "typed-then-retired", True, True, False),  # typed in (audited), then retired by the old sync
    ]
    for entry_id, item_code, synced, retired, active in rows:
        conn.execute(text(
            "INSERT INTO utility_providers (id, estate_id, name, provider_type, api_provider, provider_code, "
            "item_code, biller_name, fixed_amount_kobo, min_amount_kobo, fee_kobo, supports_validation, is_active, "
            "last_synced_at, retired_at, created_at, updated_at) VALUES (:id, 1, :code, 'electricity', 'vtpass', "
            "'ikeja-electric', :code, '', 0, 0, 0, TRUE, :active, :synced, :retired, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"),
            {"id": entry_id, "code": item_code, "active": active, "synced": "2026-11-30 10:00:00" if synced else None,
             "retired": "2026-12-01 10:00:00" if retired else None})
    for entry_id in (3, 4):
        conn.execute(text("INSERT INTO audit_entries (estate_id, actor, action, object_type, object_id, created_at) "
                          "VALUES (1, 'admin@example.com', 'catalogue.create', 'utility_provider', :id, "
                          "CURRENT_TIMESTAMP)"), {"id": entry_id})


def test_upgrade_marks_existing_entries_by_where_they_came_from(empty_database_url, redis_service):
    rows = _upgraded_over(empty_database_url, redis_service.url, BEFORE_ENTRY_ORIGINS, _entries_of_every_kind,
                          lambda conn: conn.execute(text("SELECT id, origin, retired_at IS NULL, is_active "
                                                         "FROM utility_providers ORDER BY id")).all())
    assert [tuple(r) for r in rows] == [
        (1, "catalogue", True, True),
        (2, "admin", True, True),
        (3, "admin", True, True),
        (4, "admin", True, False),  # no longer retired, still switched off: its admin may offer it again
    ]


BEFORE_ADMIN_SET_FIELDS = "75602a6c3926"


def _catalogue_entries_an_admin_edited(conn) -> None:
    """Entries as the schema of 75602a6c3926 holds them, with the admin's edits in the audit log."""
    from sqlalchemy import JSON, Integer, String, column, func, insert, table

    _estate(conn)
    rows = [  # id, origin, name now
        (1, "catalogue", "Block A power"),  # the admin renamed it; no sync since
        (2, "catalogue", "Ikeja Electric Prepaid"),  # renamed, then the old sync put the provider's name back
        (3, "admin", "Estate borehole"),  # added by hand (and edited): syncs never write it anyway
        (4, "catalogue", "Eko Electric"),  # never edited
    ]
    for entry_id, origin, name in rows:
        conn.execute(text(
            "INSERT INTO utility_providers (id, estate_id, name, provider_type, api_provider, provider_code, "
            "item_code, biller_name, fixed_amount_kobo, min_amount_kobo, fee_kobo, supports_validation, is_active, "
            "origin, last_synced_at, created_at, updated_at) VALUES (:id, 1, :name, 'electricity', 'vtpass', "
            "'ikeja-electric', :code, 'Ikeja Electric', 0, 0, 0, TRUE, TRUE, :origin, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"id": entry_id, "name": name, "code": f"item-{entry_id}", "origin": origin})
    audit = table("audit_entries", column("estate_id", Integer), column("actor", String), column("action", String),
                  column("object_type", String), column("object_id", Integer), column("after", JSON),
                  column("created_at"))
    for entry_id, after in ((1, {"name": "Block A power", "min_amount_kobo": 100}), (2, {"name": "Block B power"}),
                            (3, {"name": "Estate borehole"}), (4, {"min_amount_kobo": 100})):
        conn.execute(insert(audit).values(estate_id=1, actor="admin@example.com", action="catalogue.update",
                                          object_type="utility_provider", object_id=entry_id, after=after,
                                          created_at=func.current_timestamp()))


def test_upgrade_keeps_the_names_admins_set_on_catalogue_entries_that_still_stand(empty_database_url,
                                                                                   redis_service):
    from sqlalchemy import JSON, Integer, column, select, table

    entries = table("utility_providers", column("id", Integer), column("admin_set_fields", JSON))
    rows = _upgraded_over(empty_database_url, redis_service.url, BEFORE_ADMIN_SET_FIELDS,
                          _catalogue_entries_an_admin_edited,
                          lambda conn: conn.execute(select(entries).order_by(entries.c.id)).all())
    assert [tuple(r) for r in rows] == [(1, ["name"]), (2, []), (3, []), (4, [])]


BEFORE_ADMIN_ROLES = "0587b3dc1cca"


def _people_of_every_role(conn) -> None:
    """Users as the schema of 0587b3dc1cca holds them: no admin roles yet."""
    _estate(conn)
    for user_id, role, estate_id in ((1, "resident", 1), (2, "estate_admin", 1), (3, "platform_admin", None),
                                     (4, "estate_admin", 1)):
        conn.execute(text(
            "INSERT INTO users (id, email, full_name, password_hash, role, estate_id, is_active, session_version, "
            "created_at, updated_at) VALUES (:id, :email, 'Someone', 'x', :role, :estate_id, TRUE, 0, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"id": user_id, "email": f"user{user_id}@example.com", "role": role, "estate_id": estate_id})


def test_upgrade_makes_every_existing_estate_admin_a_manager(empty_database_url, redis_service):
    rows = _upgraded_over(empty_database_url, redis_service.url, BEFORE_ADMIN_ROLES, _people_of_every_role,
                          lambda conn: conn.execute(text("SELECT id, admin_role FROM users ORDER BY id")).all())
    assert [tuple(r) for r in rows] == [(1, None), (2, "manager"), (3, None), (4, "manager")]
