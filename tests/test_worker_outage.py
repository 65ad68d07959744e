"""A worker rides out a Redis outage in the middle of a job: it waits for Redis and works on,
instead of exiting ("found an unhandled exception, quitting"). A real `flask worker` process, a
real redis-server stopped and started again on the same port (its data gone, as after a restart
without persistence)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from webapp.config import ROOT
from webapp.infra.local_services import free_port, wait_for_port

from .waiting import wait_until

QUEUE = "outage-test"


def gated(gate: str, started: str, done: str) -> str:
    """A job that says it started, waits for the test to open its gate, then says it is done."""
    Path(started).touch()
    deadline = time.monotonic() + 60
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    Path(done).touch()
    return "ok"


def touch(path: str) -> str:
    Path(path).touch()
    return "ok"


def _redis_server(port: int, workdir: Path) -> subprocess.Popen:
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(workdir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port)
    return server


needs_redis_server = pytest.mark.skipif(
    subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0, reason="needs redis-server on PATH")


def _flask_worker(tmp_path: Path, redis_url: str, log) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
           "FLASK_APP": "wsgi.py", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    env.pop("APP_ENV", None)
    return subprocess.Popen([str(Path(sys.executable).with_name("flask")), "worker", "--queues", QUEUE,
                             "--name", "outage"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@needs_redis_server
def test_an_idle_worker_asked_to_stop_stops_and_is_not_started_again(tmp_path):
    port = free_port()
    server = _redis_server(port, tmp_path)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = _flask_worker(tmp_path, f"redis://127.0.0.1:{port}/0", log)
        try:
            # (its signal handlers are in place once its loop runs the registries' maintenance)
            wait_until(lambda: "cleaning registries" in log_path.read_text(), timeout=60, what="the worker's loop")
            worker.terminate()  # SIGTERM: RQ's warm shutdown
            assert worker.wait(30) == 0
            assert "stopped without being asked" not in log_path.read_text()
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, 9)
                worker.wait()
            server.terminate()
            server.wait(10)


@needs_redis_server
def test_a_worker_whose_redis_goes_away_mid_job_waits_and_works_on(tmp_path):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    log = (tmp_path / "worker.log").open("w")
    worker = _flask_worker(tmp_path, redis_url, log)
    try:
        files = {name: str(tmp_path / name) for name in ("gate", "started", "done", "started2", "done2")}
        Queue(QUEUE, connection=Redis.from_url(redis_url)).enqueue(gated, files["gate"], files["started"],
                                                                   files["done"])
        wait_until(lambda: Path(files["started"]).exists(), timeout=60, what="the first job to start")
        server.terminate()  # Redis goes away while the job runs
        server.wait(10)
        Path(files["gate"]).touch()
        wait_until(lambda: Path(files["done"]).exists(), timeout=30, what="the first job to finish its work")
        wait_until(lambda: "stopped without being asked" in (tmp_path / "worker.log").read_text(), timeout=60,
                   what="the worker to notice Redis is gone")
        assert worker.poll() is None, "the worker process is still running"
        server = _redis_server(port, tmp_path)  # Redis is back, empty
        Queue(QUEUE, connection=Redis.from_url(redis_url)).enqueue(gated, files["gate"], files["started2"],
                                                                   files["done2"])
        wait_until(lambda: Path(files["done2"]).exists(), timeout=60, what="a job enqueued after the outage to run")
        assert worker.poll() is None
        assert "quitting" not in (tmp_path / "worker.log").read_text().split("stopped without being asked")[-1]
    finally:
        _stop(worker)
        server.terminate()
        server.wait(10)
        log.close()


def _flask(tmp_path: Path, redis_url: str, log, *args: str, **settings: str) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
           "FLASK_APP": "wsgi.py", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **settings}
    env.pop("APP_ENV", None)
    return subprocess.Popen([str(Path(sys.executable).with_name("flask")), *args], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop_all(*processes: subprocess.Popen | None, server: subprocess.Popen) -> None:
    """Stop the product's processes that were started (None: not yet), then the Redis server."""
    for process in processes:
        if process is not None:
            _stop(process)
    server.terminate()
    server.wait(10)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@needs_redis_server
def test_cron_rides_out_a_redis_outage_and_schedules_at_once_when_redis_is_back(tmp_path):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    log_path = tmp_path / "cron.log"
    periodic = Queue("periodic", connection=Redis.from_url(redis_url))
    with log_path.open("w") as log:
        cron = _flask(tmp_path, redis_url, log, "cron")
        try:
            wait_until(lambda: periodic.count > 0, timeout=60, what="cron to enqueue its interval jobs")
            server.terminate()
            server.wait(10)
            wait_until(lambda: "ended on a Redis error" in log_path.read_text(), timeout=90,
                       what="cron to notice Redis is gone")
            assert cron.poll() is None, "the cron process is still running"
            server = _redis_server(port, tmp_path)  # back, empty
            # A new scheduler enqueues the relay, the janitor and the rest at once.
            wait_until(lambda: periodic.count > 0, timeout=60, what="cron to schedule again")
            assert cron.poll() is None
        finally:
            _stop(cron)
            server.terminate()
            server.wait(10)


@needs_redis_server
def test_a_named_worker_killed_minus_9_starts_again_under_its_name(tmp_path):
    """RQ keeps a killed worker's registration for minutes; a unit restarted under the same
    ``--name`` (the README's ``%H-%i``) would be refused until then."""
    from rq import Worker

    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    connection = Redis.from_url(redis_url)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        first = _flask(tmp_path, redis_url, log, "worker", "--queues", QUEUE, "--name", "outage")
        second = None
        try:
            wait_until(lambda: [w.pid for w in Worker.all(connection=connection)] == [first.pid], timeout=60,
                       what="the worker to register")
            os.killpg(first.pid, 9)
            first.wait(10)
            second = _flask(tmp_path, redis_url, log, "worker", "--queues", QUEUE, "--name", "outage")
            wait_until(lambda: [(w.name, w.pid) for w in Worker.all(connection=connection)] == [("outage", second.pid)],
                       timeout=60, what="the restarted worker to register under its name")
            assert second.poll() is None and "There exists an active worker" not in log_path.read_text()
        finally:
            _stop_all(first, second, server=server)


@needs_redis_server
def test_a_name_held_by_a_live_worker_or_another_machine_is_left_alone(tmp_path):
    from webapp.infra.resilient_worker import release_stale_name

    port = free_port()
    server = _redis_server(port, tmp_path)
    connection = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "worker"])
    try:
        def register(name: str, hostname: str, pid: int) -> None:
            connection.hset(f"rq:worker:{name}", mapping={"hostname": hostname, "pid": pid,
                                                          "birth": "2026-12-01T00:00:00.000000Z", "queues": QUEUE})

        import socket

        register("elsewhere", "another-machine", 999_999)
        register("live", socket.gethostname(), alive.pid)
        register("gone", socket.gethostname(), 999_999)
        assert not release_stale_name(connection, "elsewhere")
        assert not release_stale_name(connection, "live")
        assert not release_stale_name(connection, "never-registered")
        assert release_stale_name(connection, "gone")
        assert connection.hexists("rq:worker:gone", "death") and not connection.hexists("rq:worker:live", "death")
    finally:
        alive.kill()
        alive.wait()
        server.terminate()
        server.wait(10)


@needs_redis_server
def test_a_live_worker_takes_over_the_scheduler_of_one_killed_minus_9(tmp_path):
    """Jobs enqueued for later (a status check's retry, RQ's retries) are moved to their queue by
    the one worker holding RQ's scheduler lock. Killed -9, it leaves the lock to lapse (61 s); a
    live worker tries to take it at its maintenance, every WORKER_MAINTENANCE_SECONDS (RQ's own
    default, 10 minutes, left scheduled jobs waiting that long)."""
    from datetime import UTC, datetime

    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    connection = Redis.from_url(redis_url)
    lock = f"rq:scheduler-lock:{QUEUE}"
    log_path = tmp_path / "workers.log"
    with log_path.open("w") as log:
        first = _flask(tmp_path, redis_url, log, "worker", "--queues", QUEUE, "--name", "first",
                       WORKER_MAINTENANCE_SECONDS="2")
        second = None
        try:
            wait_until(lambda: connection.exists(lock), timeout=60, what="the first worker to take the scheduler")
            second = _flask(tmp_path, redis_url, log, "worker", "--queues", QUEUE, "--name", "second",
                            WORKER_MAINTENANCE_SECONDS="2")
            # In its loop: its first try for the scheduler, as it started, found the lock taken.
            wait_until(lambda: "second: cleaning registries" in log_path.read_text(), timeout=60,
                       what="the second worker's loop")
            os.killpg(first.pid, 9)
            first.wait(10)
            assert connection.exists(lock), "a killed scheduler leaves its lock behind"
            connection.delete(lock)  # as its expiry would, 61 s after the kill
            done = tmp_path / "done"
            Queue(QUEUE, connection=connection).enqueue_at(datetime.now(UTC), touch, str(done))
            wait_until(done.exists, timeout=60, what="the live worker to take the scheduler and run the job")
        finally:
            _stop_all(first, second, server=server)
