"""The real product, running: gunicorn serving ``wsgi:app``, an RQ worker (``flask worker``) and the
provider sandbox, all configured through environment variables exactly as an operator would.

Browser tests and worker crash tests use it. It has its own database (a fresh SQLite file, or on
PostgreSQL a database ``<test db>_live``, else a schema, so the in-process ``app`` fixture's table
emptying never touches it) and its own Redis database number, next to the ``app`` fixture's. The
schema comes from ``flask db upgrade`` and the demo data from ``flask seed-demo``. One stack
serves the whole session (of each pytest-xdist worker that needs one) and nothing is emptied
between tests, so a test must not assume an empty database (make your own rows or compare
before/after). The providers are the session's ``sandbox``: its knobs (``sandbox.configure``)
reach the live processes too, and ``sandbox_fresh_state`` resets them before each test.

    live_stack.url             base URL of the web server, e.g. "http://127.0.0.1:41234"
    live_stack.db_url          DATABASE_URL the processes use
    live_stack.redis_url       REDIS_URL the processes use (queues, rate limits)
    live_stack.env             the full environment of the processes (copy it to start more)
    live_stack.app()           an in-process Flask app with the same settings, for assertions
    live_stack.run_cli(*args, check=True, extra_env=None)  ``flask <args>`` like an operator,
                               e.g. run_cli("payments", "janitor"); returns CompletedProcess
    live_stack.start_worker(name=None, extra_env=None, queues=...)  start another RQ worker (every queue by default)
                               and return its Popen once it is registered in Redis
    live_stack.worker          the newest running worker's Popen (None if none runs)
    live_stack.kill_worker(sig=SIGKILL, process=None)  signal a worker (default the newest) and
                               wait; SIGKILL hits its whole process group, work horse included
    live_stack.log_tail(name)  the end of a process log ("web", "live-worker-1", ...)
    live_stack.logs_dir        where every process log is kept
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
import requests
from redis import Redis
from sqlalchemy import inspect

from webapp.config import DEV_ENCRYPTION_KEY, ROOT
from webapp.infra.local_services import free_port
from webapp.jobs import QUEUES
from webapp.sandbox.runner import provider_settings

from .databases import PrivateDatabase, private_postgres_database, redis_db_number, redis_url_with_db

BIN = Path(sys.executable).parent
LIVE_SECRET_KEY = "live-stack-test-secret-key-0123456789abcdef"
START_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0


def _gunicorn_has_option(flag: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(flag in (setting.cli or []) for setting in KNOWN_SETTINGS)


@dataclass
class LiveStack:
    url: str
    db_url: str
    redis_url: str
    env: dict[str, str]
    logs_dir: Path
    workers: list[subprocess.Popen] = field(default_factory=list)
    web: subprocess.Popen | None = None
    _logs: list = field(default_factory=list)
    _app: object = None
    _worker_count: int = 0

    # -- processes ----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        log = open(self.logs_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop())
        self._logs.append(log)
        # A new session per process: stopping signals the whole group (gunicorn's workers, RQ's horse).
        return subprocess.Popen(argv, env={**self.env, **(extra_env or {})}, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs_dir / f"{name}.log"
        if not path.exists():
            return f"(no log {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def run_cli(self, *args: str, check: bool = True, timeout: float = 120,
                extra_env: dict | None = None) -> subprocess.CompletedProcess:
        """Run ``flask <args>`` with the stack's environment, as an operator would."""
        result = subprocess.run([str(BIN / "flask"), *args], env={**self.env, **(extra_env or {})}, cwd=ROOT,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"flask {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def start_web(self) -> None:
        """Start gunicorn serving ``wsgi:app`` on the stack's port (``wait_until_healthy`` to wait)."""
        port = urlsplit(self.url).port
        argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                "--graceful-timeout", "2", "--access-logfile", "-"]
        if _gunicorn_has_option("--no-control-socket"):
            argv.append("--no-control-socket")  # newer gunicorns share one control socket per home dir
        self.web = self._spawn("web", [*argv, "wsgi:app"])

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.web.poll() is None:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or the request waits for a booting gunicorn worker
            time.sleep(0.1)
        raise RuntimeError(f"the web server did not become healthy:\n{self.log_tail('web')}")

    def start_worker(self, name: str | None = None, extra_env: dict | None = None,
                     queues: str = ",".join(QUEUES)) -> subprocess.Popen:
        """Start ``flask worker`` and return once it is registered in Redis (ready to take jobs).

        ``extra_env`` adds settings for this worker only, e.g. ``{"PAYMENT_PAUSE_POINTS": "after_debit=5"}``.
        """
        self._worker_count += 1
        name = name or f"live-worker-{self._worker_count}"
        process = self._spawn(name, [str(BIN / "flask"), "worker", "--name", name, "--queues", queues],
                              extra_env)
        self.workers.append(process)
        redis = Redis.from_url(self.redis_url)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline and process.poll() is None:
                if redis.exists(f"rq:worker:{name}"):
                    return process
                time.sleep(0.05)
        finally:
            redis.close()
        raise RuntimeError(f"worker {name} did not start:\n{self.log_tail(name)}")

    @property
    def worker(self) -> subprocess.Popen | None:
        """The newest worker still running, if any."""
        alive = [w for w in self.workers if w.poll() is None]
        return alive[-1] if alive else None

    def kill_worker(self, sig: int = signal.SIGKILL, process: subprocess.Popen | None = None,
                    timeout: float = STOP_TIMEOUT) -> int:
        """Signal a worker (default: the newest running one) and wait for it to exit.

        SIGKILL goes to the worker and every process below it, so the work horse running a job (RQ
        puts it in its own process group) dies too, like on a machine crash; other signals go to the
        worker process only (SIGTERM = RQ's warm shutdown).
        """
        process = process or self.worker
        if process is None:
            raise RuntimeError("no running worker to kill")
        if sig == signal.SIGKILL:
            from .payments.worker_process import kill_tree

            kill_tree(process.pid, sig)  # the work horse has its own process group
        else:
            os.kill(process.pid, sig)
        return process.wait(timeout=timeout)

    def app(self):
        """An in-process app built from the same environment, bound to the live database."""
        if self._app is None:
            from webapp import create_app

            with mock.patch.dict(os.environ, self.env, clear=True):
                self._app = create_app()
        return self._app

    # -- lifecycle ----------------------------------------------------------------------------
    def stop(self) -> None:
        processes = [p for p in [*self.workers, self.web] if p is not None]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Also reap anything the leader left behind in its group (a horse outliving its worker).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for log in self._logs:
            log.close()
        if self._app is not None:
            from webapp.extensions import db

            with self._app.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()


def _create_schema(stack: LiveStack) -> None:
    """``flask db upgrade``; if the migrations lag behind the models, fall back to create_all (warned)."""
    stack.run_cli("db", "upgrade")
    from webapp.extensions import db

    app = stack.app()
    with app.app_context():
        missing = set(db.metadata.tables) - set(inspect(db.engine).get_table_names())
        if missing:
            warnings.warn(f"migrations lag behind the models (missing {sorted(missing)}); the live stack "
                          "uses db.create_all() instead", stacklevel=2)
            db.drop_all()
            db.create_all()
        db.session.remove()


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory, database_url, redis_service, sandbox):
    """The product's real processes against a dedicated database; stopped (whole groups) at the end."""
    tmp_dir = tmp_path_factory.mktemp("live")
    logs_dir = tmp_dir / "logs"
    logs_dir.mkdir()
    database = private_postgres_database(database_url, "live") if database_url.startswith("postgresql") \
        else PrivateDatabase(url=f"sqlite:///{tmp_dir / 'live.db'}")
    # The in-process `app` fixture flushes its Redis database before every test: the live stack
    # keeps its queues, rate-limit counters and worker registrations in the next one.
    redis_url = redis_url_with_db(redis_service.url, redis_db_number(redis_service.url) + 1)
    Redis.from_url(redis_url).flushdb()
    url = f"http://127.0.0.1:{free_port()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_"))},
        "FLASK_APP": "wsgi.py",
        "PYTHONUNBUFFERED": "1",
        "APP_ENV": "development",
        "SECRET_KEY": LIVE_SECRET_KEY,
        "ENCRYPTION_KEYS": DEV_ENCRYPTION_KEY,
        "LOOKUP_HASH_KEY": "",
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": url,
        # Tests sign in often from one address; lockout after failures stays at its real setting.
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "PROVIDER_CONNECT_TIMEOUT": "1.0",
        "PROVIDER_READ_TIMEOUT": "1.0",
        **provider_settings(sandbox.url),
    }
    stack = LiveStack(url=url, db_url=database.url, redis_url=redis_url, env=env, logs_dir=logs_dir)
    try:
        _create_schema(stack)
        # In-process (same settings, same command) to spare one more interpreter start-up.
        seeded = stack.app().test_cli_runner().invoke(args=["seed-demo"])
        assert seeded.exit_code == 0, f"flask seed-demo failed:\n{seeded.output}"
        stack.start_web()
        stack.start_worker()  # boots while gunicorn does
        stack.wait_until_healthy()
        yield stack
    finally:
        stack.stop()
        Redis.from_url(redis_url).flushdb()
        if database.drop:
            database.drop()
