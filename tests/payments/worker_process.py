"""A real `flask worker` process sharing the test database, Redis and sandbox."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
PASSED_SETTINGS = (
    "REDIS_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "LOOKUP_HASH_KEY",
    "FLUTTERWAVE_BASE_URL", "FLUTTERWAVE_SECRET_KEY", "FLUTTERWAVE_SECRET_HASH",
    "VTPASS_BASE_URL", "VTPASS_API_KEY", "VTPASS_PUBLIC_KEY", "VTPASS_SECRET_KEY",
    "PAYSTACK_BASE_URL", "PAYSTACK_SECRET_KEY", "PROVIDER_CONNECT_TIMEOUT", "PROVIDER_READ_TIMEOUT",
    "PAYMENT_STALE_AFTER_SECONDS", "PAYMENT_SUBMIT_LEASE_SECONDS",
)


def worker_env(app: Flask, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))}
    env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["FLASK_APP"] = "wsgi.py"
    env["PAYMENT_RQ_RETRY_INTERVALS"] = ""
    for name in PASSED_SETTINGS:
        value = app.config.get(name)
        if value not in (None, ""):
            env[name] = str(value)
    env.update(extra)
    return env


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc): RQ's work horse runs in its own process group."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a worker, its process group and every descendant (the work horse included), as a
    machine crash would. Killing only the group would leave the horse to finish its job later."""
    victims = descendants(pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, sig)


class WorkerProcess:
    """`flask worker` in its own process group, so SIGKILL takes the work horse down too."""

    def __init__(self, env: dict, name: str, burst: bool = False):
        argv = [str(Path(sys.executable).with_name("flask")), "worker", "--name", name]
        if burst:
            argv.append("--burst")
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Read the log as it comes: a worker whose pipe fills up blocks on its next log line.
        self._log = bytearray()
        self._log_lock = threading.Lock()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        for line in iter(self.process.stderr.readline, b""):
            with self._log_lock:
                self._log.extend(line)

    def logged(self, text: str) -> bool:
        """Whether the worker has written ``text`` to its log so far."""
        with self._log_lock:
            return text.encode() in self._log

    def kill(self, sig: int = signal.SIGKILL) -> None:
        kill_tree(self.process.pid, sig)
        self.process.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill(signal.SIGTERM)
