"""Shared fixtures: a real database (SQLite file or PostgreSQL) and a real Redis server.

``TEST_DATABASE_URL`` selects PostgreSQL; without it each run uses a fresh SQLite file.
``REDIS_URL`` selects a Redis server; without it a private one is started for the session.

Under ``pytest -n N`` (pytest-xdist; ``make test`` runs so) each worker process ``gw<k>`` has a
database of its own (``<test db>_gw<k>`` on PostgreSQL, its own file on SQLite) and its own pair
of Redis database numbers, so workers never see each other's rows, queues or rate-limit counters.
"""
from __future__ import annotations

import os
import re

import pytest
from flask import Flask

import webapp.jobs
from webapp import create_app
from webapp.config import normalise_database_url
from webapp.extensions import db, limiter
from webapp.infra.local_services import start_redis
from webapp.infra.redis_client import redis_connection

from . import factories
from .databases import REDIS_DATABASES, private_postgres_database, redis_db_number, redis_url_with_db
from .fixtures_automations import frozen, postpaid, prepaid, water  # noqa: F401  (a fixed Friday; entries)
from .fixtures_funding import funding_config, live_server, open_checkout, pay_checkout, webhooks_lost  # noqa: F401
from .fixtures_live import live_stack  # noqa: F401  (the product's real processes, for browser/crash tests)
from .fixtures_resident_accounts import decoder, logged_in, meter, power_entry, tv_entry  # noqa: F401
from .fixtures_sandbox import funded, sandbox, sandbox_config, sandbox_fresh_state  # noqa: F401

TEST_PASSWORD = factories.TEST_PASSWORD


def _xdist_worker() -> int | None:
    """k for pytest-xdist's worker ``gw<k>``; None when the tests run in one process."""
    name = os.environ.get("PYTEST_XDIST_WORKER")
    return int(name.removeprefix("gw")) if name else None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"  # per worker: xdist gives each its own tmp
        return
    url = normalise_database_url(url)
    worker = _xdist_worker()
    if worker is None:
        yield url
        return
    database = private_postgres_database(url, f"gw{worker}")
    yield database.url
    database.drop()


@pytest.fixture(scope="session")
def redis_service():
    """Redis for the in-process app; the live stack uses the next database number (see fixtures_live)."""
    url = os.environ.get("REDIS_URL")
    worker = _xdist_worker()
    if url and worker:
        number = redis_db_number(url) + 2 * worker
        # Past the server's database numbers a worker starts a private server instead.
        url = redis_url_with_db(url, number) if number + 1 < REDIS_DATABASES else None
    handle = start_redis(url)
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def base_config(database_url, redis_service) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_service.url,
        "RATELIMIT_STORAGE_URI": redis_service.url,
        "SERVER_NAME": "autopay.test",
        # A cheap password hash: every factory user would otherwise pay for scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        # Flask-Limiter keeps the last app's "enabled" on its one shared object: say it every time.
        "RATELIMIT_ENABLED": True,
        # Fraud rules are off unless a test turns them on (tests/test_fraud.py does).
        "FRAUD_ACCOUNT_PURCHASES_PER_HOUR": 0, "FRAUD_ACCOUNT_PURCHASES_PER_DAY": 0,
        "FRAUD_RESIDENT_PURCHASES_PER_HOUR": 0, "FRAUD_RESIDENT_PURCHASES_PER_DAY": 0,
        "FRAUD_AMOUNT_FACTOR": 0, "FRAUD_SHARED_NUMBER_RESIDENTS": 0,
    }


@pytest.fixture(scope="session")
def _schema(base_config):
    app = create_app(base_config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def _empty_all_tables() -> None:
    """Every table empty and every id counting from 1 again, as on a fresh database.

    DELETE rather than TRUNCATE on PostgreSQL: on tables this small TRUNCATE costs ~60 ms a test
    (it rewrites each table's files). There the DELETEs and the sequence reset go in one round trip
    (psycopg runs a parameterless string of statements at once); SQLite takes one at a time."""
    db.session.remove()
    tables = [table.name for table in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("".join(f'DELETE FROM "{name}";' for name in tables) +
                                 "SELECT setval(c.oid, 1, false) FROM pg_class c "
                                 "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace")
        else:
            for name in tables:
                conn.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture
def config_overrides() -> dict:
    """Override in a test module to change settings for its app."""
    return {}


def _close_connections(app: Flask) -> None:
    """Close an app's pooled connections now rather than whenever the garbage collector gets to
    them (PostgreSQL has a connection limit). Apps kept for reuse keep theirs: opening a
    PostgreSQL connection costs more than most tests."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


class _Apps:
    """One built app per configuration, reused by every test that asks for the same settings.

    Building the app is most of a small test's cost (werkzeug compiles each of ~100 URL rules),
    and nothing a test may change outlives it: the config is restored, the tables are emptied,
    Redis is flushed and the page cache cleared before each test. A test that changes the app
    itself (adds routes) asks for ``@pytest.mark.fresh_app`` and gets one of its own.
    """

    KEEP = 8  # modules run one after another, so a few recent configurations cover nearly all

    def __init__(self):
        self._apps: dict[str, Flask] = {}

    def get(self, config: dict, fresh: bool) -> Flask:
        key = repr(sorted(config.items()))
        app = None if fresh else self._apps.pop(key, None)
        if app is None:
            app = create_app(config)
            # Flask-Limiter is one object for every app, holding the storage of the last app built
            # (a production-mode app in a test leaves it in memory): remember this app's.
            app.extensions["tests.limiter"] = (limiter.enabled, limiter._storage, limiter._limiter)
        if not fresh:
            self._apps[key] = app  # most recent last
            while len(self._apps) > self.KEEP:
                _close_connections(self._apps.pop(next(iter(self._apps))))
        limiter.enabled, limiter._storage, limiter._limiter = app.extensions["tests.limiter"]
        return app


_apps = _Apps()


@pytest.fixture
def app(request, _schema, base_config, config_overrides, redis_service):
    app = _apps.get({**base_config, **config_overrides}, fresh=request.node.get_closest_marker("fresh_app") is not None)
    settings = app.config.copy()
    with app.app_context():
        _empty_all_tables()
        redis_connection().flushdb()
        yield app
        db.session.remove()
        if request.node.get_closest_marker("fresh_app"):
            _close_connections(app)
    app.config.clear()
    app.config.update(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def require_postgres(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL for real row locks; set TEST_DATABASE_URL to run it")


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/auth/login") -> str:
        return csrf_token_from(self.client.get(path).get_data(as_text=True))

    def login(self, email: str, password: str = TEST_PASSWORD, follow: bool = False):
        token = self.csrf()
        return self.client.post(
            "/auth/login",
            data={"email": email, "password": password, "csrf_token": token},
            follow_redirects=follow,
        )

    def logout(self):
        token = self.csrf("/auth/password")
        return self.client.post("/auth/logout", data={"csrf_token": token})

    def post(self, path: str, data: dict | None = None, page: str | None = None, **kwargs):
        """POST a form with a CSRF token taken from ``page`` (default: the same path)."""
        token = self.csrf(page or path)
        return self.client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def estate(app):
    return factories.make_estate()


@pytest.fixture
def jobs_run_here(app):
    """Job functions (and the in-process RQ worker) run against this test's app."""
    previous = webapp.jobs._app
    webapp.jobs.use_app(app)
    yield
    webapp.jobs._app = previous


@pytest.fixture
def resident(estate):
    return factories.make_user(estate=estate, email="ada@example.com", full_name="Ada Okafor")


@pytest.fixture
def other_resident(estate):
    return factories.make_user(estate=estate, email="bola@example.com", full_name="Bola Adeyemi")


@pytest.fixture
def estate_admin(estate):
    return factories.make_user(estate=estate, email="admin@example.com", role="estate_admin")


@pytest.fixture
def other_estate(app):
    return factories.make_estate(name="Banana Island")


@pytest.fixture
def other_admin(other_estate):
    return factories.make_user(estate=other_estate, email="admin-b@example.com", role="estate_admin")


@pytest.fixture
def as_resident(auth, resident):
    """``auth`` signed in as ``resident``."""
    auth.login(resident.email)
    return auth


@pytest.fixture
def as_admin(auth, estate_admin):
    """``auth`` signed in as ``estate_admin``."""
    auth.login(estate_admin.email)
    return auth
