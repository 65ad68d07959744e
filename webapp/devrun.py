"""`make run`: the whole product on one machine, stopped together with Ctrl-C.

Starts (or reuses) Redis, migrates and seeds the database, then runs the web server, three RQ
workers for payments and emails, a worker for the periodic queue and one `rq cron` process (with the
sandbox, on schedules short enough that every test number settles within a minute). A child that
dies is started again after a short backoff (a line says so); Ctrl-C stops them all. Every child
runs in its own process group so that stopping kills whole trees; nothing is left behind and no pid
files are written.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from webapp.cli import DEMO_USERS
from webapp.config import ROOT
from webapp.infra.local_services import start_redis, wait_for_port
from webapp.jobs import EMAILS, PAYMENTS, PERIODIC

BIN = os.path.dirname(sys.executable)


PAYMENT_WORKERS = 3  # one waiting out a slow provider answer never holds up the others
RESTART_BACKOFF = (1, 2, 5, 10, 30)  # seconds before the 1st, 2nd, ... restart in a row
STEADY_AFTER = 60  # a child that ran this long before it died starts again from the first step


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    argv: list[str]
    env: dict
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0  # in a row, without a steady run between
    restart_at: float | None = None  # when a child that died is started again


def _supervise(child: Child, now: float) -> None:
    """A child that died is started again after a short backoff, with a line saying so: a worker
    lost to a Redis blip or a crash must not stop the whole product."""
    if child.restart_at is None:
        if child.process.poll() is None:
            return
        if now - child.started_at >= STEADY_AFTER:
            child.restarts = 0
        delay = RESTART_BACKOFF[min(child.restarts, len(RESTART_BACKOFF) - 1)]
        child.restart_at = now + delay
        print(f"{child.name} exited with code {child.process.returncode}; restarting it in {delay} s", flush=True)
        return
    if now >= child.restart_at:
        child.process = subprocess.Popen(child.argv, env=child.env, cwd=ROOT, start_new_session=True)
        child.started_at, child.restart_at, child.restarts = now, None, child.restarts + 1
        print(f"{child.name} restarted (pid {child.process.pid})", flush=True)


def _bin(name: str) -> str:
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else name


def _spawn(name: str, argv: list[str], env: dict) -> Child:
    process = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True)
    return Child(name, process, argv, env)


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def _gunicorn_private_flags() -> list[str]:
    """Newer gunicorn opens a control socket in the home directory; servers side by side would share it."""
    probe = subprocess.run([_bin("gunicorn"), "--help"], capture_output=True, text=True, check=False)
    return ["--no-control-socket"] if "--no-control-socket" in probe.stdout else []


def extra_services(env: dict, children: list[Child]) -> None:
    """Start the provider sandbox and point the app at it when no real keys are configured."""
    try:
        from webapp.sandbox.runner import start_for_devrun
    except ImportError:  # the sandbox arrives with the money core
        return
    start_for_devrun(env, children, _spawn)


PRODUCTION_REFUSED = (
    "make run is for development: it starts the provider sandbox (whose checkout pays any amount) and "
    "creates the demo logins with their published passwords. It refuses APP_ENV=production; see "
    "\"Running in production\" in README.md (gunicorn, `flask worker`, one `flask cron`, PostgreSQL, "
    "Redis and the required settings)."
)


def main() -> int:
    if os.environ.get("APP_ENV") == "production":
        print(PRODUCTION_REFUSED, file=sys.stderr)
        return 2
    port = int(os.environ.get("PORT", "5000"))
    env = os.environ.copy()
    env.setdefault("FLASK_APP", "wsgi.py")
    env["PYTHONUNBUFFERED"] = "1"
    redis = start_redis(os.environ.get("REDIS_URL"))
    env["REDIS_URL"] = redis.url
    print(f"Redis: {redis.description}", flush=True)
    children: list[Child] = []
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        extra_services(env, children)
        flask = _bin("flask")
        subprocess.run([flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        subprocess.run([flask, "seed-demo"], env=env, cwd=ROOT, check=True)
        web = [_bin("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
               "--access-logfile", "-", *_gunicorn_private_flags(), "wsgi:app"]
        children.append(_spawn("web", web, env))
        for n in range(1, PAYMENT_WORKERS + 1):
            children.append(_spawn(f"worker {n}", [flask, "worker", "--queues", f"{PAYMENTS},{EMAILS}"], env))
        # The clock's jobs (sweep, janitor) have a worker of their own: never behind a payment backlog.
        children.append(_spawn("periodic worker", [flask, "worker", "--queues", PERIODIC], env))
        children.append(_spawn("cron", [flask, "cron"], env))
        wait_for_port(port, timeout=30)
        print("\n" + "=" * 64)
        print(f"Utility Autopay is running at http://127.0.0.1:{port}")
        print("Demo logins:")
        for email, password, _name, role, _phone in DEMO_USERS:
            print(f"  {role.value:<14} {email:<22} {password}")
        print("Press Ctrl-C to stop everything.")
        print("=" * 64 + "\n", flush=True)
        while not stopping:
            for child in children:
                _supervise(child, time.monotonic())
            time.sleep(0.5)
    except subprocess.CalledProcessError as exc:
        print(f"setup step failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("Stopping…", flush=True)
        _stop(children)
        redis.stop()
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
