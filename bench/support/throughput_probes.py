"""Instruments of ``automation_throughput.py``: what our processes did per payment, and how the
database and the providers' caps held up. Nothing here changes what the product does.

In the worker pool (installed by its parent before it forks the workers):
    ``WorkerCounters``  SQL statements, transactions and SQLite write-lock times of one worker
                        process, and CPU, wall time and statements per job function; written to
                        ``<dir>/worker-<pid>.json`` at the end of every job (``read_worker_counters``)
    ``CountingWorker``  the SimpleWorker that measures each job for them

In the bench process:
    ``counting_redis``  a Redis client counting every command it sends, so the bench's own
                        commands can be taken out of the server's ``INFO commandstats``
    ``SlotSampler``     provider slots held (``provider_slots``' sorted sets), every 50 ms
    ``PostgresSampler`` lock waits of this database's sessions and the CPU of every process of the
                        PostgreSQL cluster (``/proc``), every 100 ms; ``pg_stat_database`` counters
"""
from __future__ import annotations

import contextlib
import cProfile
import json
import os
import pstats
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from redis import ConnectionPool, Redis
from redis.connection import Connection
from rq import SimpleWorker

TICKS = os.sysconf("SC_CLK_TCK")
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")  # transaction control, not counted as statements


# --- in the worker processes -------------------------------------------------------------------

class WorkerCounters:
    """One process's counters (a forked worker starts from zero). ``install`` hooks an engine."""

    def __init__(self, directory: str, statement_times: bool = False, profile: bool = False) -> None:
        self.directory = Path(directory)
        # the CPU of every job's own thread (``--profile``)
        self.profiler = cProfile.Profile(time.thread_time) if profile else None
        self.job = "outside jobs"
        self.values: defaultdict[str, float] = defaultdict(float)
        # statement text -> [executions, seconds], when asked for (``--top-sql``)
        self.statements: dict[str, list[float]] | None = {} if statement_times else None
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.values.clear()
        if self.profiler is not None:
            self.profiler = cProfile.Profile(time.thread_time)
        if self.statements is not None:
            self.statements.clear()

    def add(self, name: str, amount: float = 1) -> None:
        self.values[name] += amount
        self.values[f"{self.job}|{name}"] += amount

    def install(self, engine, sqlite: bool) -> None:
        """Statements (``before_cursor_execute``; BEGIN, SAVEPOINT and the like count as
        ``control``), transactions (``begin``, ``commit``, ``rollback``) and, on SQLite, how long
        each transaction waited for the database's one write lock and then held it until its
        commit or rollback ended."""
        from sqlalchemy import event

        held: dict[int, float] = {}  # dbapi connection -> when it got the write lock

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn, cursor, statement, *args):
            self.add("control" if statement.lstrip()[:9].upper().startswith(CONTROL) else "statements")
            conn.info["bench_t"] = time.perf_counter()

        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, lambda conn, name=name: self.add(name))
        if self.statements is not None:
            @event.listens_for(engine, "after_cursor_execute")
            def timed(conn, cursor, statement, *args):
                entry = self.statements.setdefault(f"[{self.job}] {' '.join(statement.split())}", [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - conn.info["bench_t"]
        if not sqlite:
            return

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn, cursor, statement, *args):
            # A writer's transaction takes the lock at BEGIN IMMEDIATE (sqlite_files.tune); a
            # deferred one at its first write.
            verb = statement.lstrip()[:15].upper()
            if id(conn.connection) not in held and (verb.startswith("BEGIN IMMEDIATE")
                                                    or verb[:6] in ("INSERT", "UPDATE", "DELETE")):
                held[id(conn.connection)] = now = time.perf_counter()
                self.add("tx_wait", now - conn.info["bench_t"])

        for name in ("do_commit", "do_rollback"):
            def ended(dbapi_connection, original=getattr(engine.dialect, name)):
                try:
                    original(dbapi_connection)
                finally:
                    began = held.pop(id(dbapi_connection), None)
                    if began is not None:
                        self.add("tx_hold", time.perf_counter() - began)
                        self.add("tx_count")

            setattr(engine.dialect, name, ended)

    def dump(self) -> None:
        for name, data in (("worker", self.values), ("sql", self.statements)):
            if data is not None:
                path = self.directory / f"{name}-{os.getpid()}.json"
                path.with_suffix(".tmp").write_text(json.dumps(data))
                path.with_suffix(".tmp").replace(path)
        if self.profiler is not None:
            self.profiler.dump_stats(self.directory / f"profile-{os.getpid()}.prof")


class CountingWorker(SimpleWorker):
    """A SimpleWorker that charges each job's CPU (the whole process's, so a batch's purchase
    threads too), wall time and statements to its function, then writes its counters."""

    counters: WorkerCounters | None = None

    def perform_job(self, job, queue, execution) -> bool:
        counters = type(self).counters
        counters.job = job.func_name.rsplit(".", 1)[-1]
        cpu, wall = time.process_time(), time.perf_counter()
        if counters.profiler is not None:
            counters.profiler.enable()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            if counters.profiler is not None:
                counters.profiler.disable()
            counters.add("jobs")
            counters.add("cpu", time.process_time() - cpu)
            counters.add("wall", time.perf_counter() - wall)
            counters.job = "outside jobs"
            counters.dump()  # before the worker reports itself idle


def print_profile(directory: Path, count: int) -> None:
    """The ``count`` functions the workers' jobs spent most time in themselves, then by total time."""
    files = sorted(str(path) for path in directory.glob("profile-*.prof"))
    if not files:
        print("  profile: none written", flush=True)
        return
    stats = pstats.Stats(*files, stream=sys.stdout)
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        print(f"  profile of the jobs' own threads, by {order}:", flush=True)
        stats.sort_stats(order).print_stats(count)


def read_worker_counters(directory: Path) -> dict[str, float]:
    """The sum of every worker's counters (``<job>|<name>`` keys are per job function)."""
    total: Counter = Counter()
    for path in directory.glob("worker-*.json"):
        try:
            total.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return dict(total)


def top_statements(directory: Path, count: int) -> list[tuple[str, int, float]]:
    """The ``count`` statements the workers spent most time in: (``[job] text``, executions, seconds)."""
    total: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for path in directory.glob("sql-*.json"):
        with contextlib.suppress(OSError, ValueError):
            for statement, (n, seconds) in json.loads(path.read_text()).items():
                total[statement][0] += n
                total[statement][1] += seconds
    ranked = sorted(total.items(), key=lambda item: -item[1][1])[:count]
    return [(statement, int(n), seconds) for statement, (n, seconds) in ranked]


def per_job(counters: dict[str, float]) -> dict[str, dict[str, float]]:
    jobs: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in counters.items():
        if "|" in key:
            job, name = key.split("|", 1)
            jobs[job][name] = value
    return dict(jobs)


# --- Redis -------------------------------------------------------------------------------------

class CountingConnection(Connection):
    """Counts the commands this process sends (pipelines' included, MULTI and EXEC too)."""

    sent = 0
    _lock = threading.Lock()

    def pack_command(self, *args):
        with self._lock:
            CountingConnection.sent += 1
        return super().pack_command(*args)

    def pack_commands(self, commands):
        commands = list(commands)
        with self._lock:
            CountingConnection.sent += len(commands)
        return super().pack_commands(commands)


def counting_redis(url: str) -> Redis:
    return Redis(connection_pool=ConnectionPool.from_url(url, connection_class=CountingConnection))


def command_stats(conn: Redis) -> tuple[dict[str, int], int]:
    """(calls per command from ``INFO commandstats``, commands this process has sent so far, the
    INFO included). The server counts commands run inside Lua scripts too."""
    stats = conn.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}, CountingConnection.sent


def command_delta(before: tuple[dict[str, int], int], after: tuple[dict[str, int], int]) -> tuple[int, int, Counter]:
    """(every command the server ran between the two snapshots, of them the bench's own, per command)."""
    calls = Counter(after[0])
    calls.subtract(before[0])
    # The first INFO is in the second snapshot, the second is in neither: the bench's own are
    # exactly the commands it sent after the first INFO up to and including the second.
    return sum(calls.values()), after[1] - before[1], +calls


# --- samplers ----------------------------------------------------------------------------------

class Sampler:
    """Calls ``sample()`` every ``interval`` seconds in a daemon thread until ``stop()``."""

    interval = 0.1

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)
        self.samples = 0
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample()
                self.samples += 1
            except Exception as exc:  # the run's end (services stopping) or a bug: stop sampling, say why
                self.error = f"{type(exc).__name__}: {exc}"
                return
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class SlotSampler(Sampler):
    """Slots held per provider (live leases in ``provider_slots``' sorted set), every 50 ms: the
    peak, and the mean over the samples in which any call was in flight."""

    interval = 0.05

    def __init__(self, conn: Redis, keys: dict[str, str]) -> None:
        super().__init__()
        self.conn, self.keys = conn, keys
        self.peak = dict.fromkeys(keys, 0)
        self.busy_sum = dict.fromkeys(keys, 0)
        self.busy_samples = 0

    def sample(self) -> None:
        now_ms = int(time.time() * 1000)  # leases end at Redis server time; the server is on this machine
        pipe = self.conn.pipeline(transaction=False)
        for key in self.keys.values():
            pipe.zcount(key, f"({now_ms}", "+inf")
        held = dict(zip(self.keys, pipe.execute(), strict=True))
        for provider, n in held.items():
            self.peak[provider] = max(self.peak[provider], n)
        if any(held.values()):
            self.busy_samples += 1
            for provider, n in held.items():
                self.busy_sum[provider] += n

    def mean_busy(self, provider: str) -> float:
        return self.busy_sum[provider] / self.busy_samples if self.busy_samples else 0.0


# Lock waits of this database's sessions. A session waiting for a row first takes the row's
# ``tuple`` lock and then waits on the holder's ``transactionid`` (later waiters queue on the
# ``tuple`` lock itself), so the waiter's tuple lock names the relation and the row (page, item):
# the row's ``kind`` is read by that ctid while the wait lasts. A wait with no tuple lock (e.g. on
# a unique key another transaction is inserting) has no row to name.
LOCK_WAITS = """
SELECT w.pid, w.locktype, coalesce(t.relation, w.relation)::regclass::text,
       CASE WHEN t.relation = 'accounts'::regclass THEN
            (SELECT a.kind || coalesce(':' || a.code, '') FROM accounts a
             WHERE a.ctid = format('(%s,%s)', t.page, t.tuple)::tid) END,
       pg_blocking_pids(w.pid), left(s.query, 200)
FROM pg_locks w
JOIN pg_stat_activity s ON s.pid = w.pid
LEFT JOIN LATERAL (SELECT relation, page, tuple FROM pg_locks
                   WHERE pid = w.pid AND locktype = 'tuple' LIMIT 1) t ON true
WHERE NOT w.granted AND s.datname = current_database()
"""
ROW_LOCKS = ("transactionid", "tuple")


class PostgresSampler(Sampler):
    """Every 100 ms, on a connection of its own: the sessions of this database waiting for locks
    (``LOCK_WAITS``), and each process of the cluster serving it with its CPU time so far (the
    postmaster's children from ``/proc``, named by ``pg_stat_activity``). A backend that exits
    keeps the CPU of its last sample, so at most 100 ms of its time is missed; the postmaster's
    reaped-children time (``cutime``, every database's) gives the whole cluster exactly."""

    interval = 0.1

    def __init__(self, url: str) -> None:
        import psycopg

        super().__init__()
        self.conn = psycopg.connect(url, autocommit=True)
        self.lock = threading.Lock()
        self.statements = 0  # every statement is a transaction of its own (autocommit)
        self.database, own = self.query("SELECT current_database(), pg_backend_pid()")[0]
        self.bench_pids = {own}  # the bench's own sessions (add the others)
        self.postmaster = _stat(own)["ppid"]
        self.extension = bool(self.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"))
        # (pid, start time) -> [category, ticks at the start (None: born later), ticks at the last sample]
        self.procs: dict[tuple[int, int], list] = {}
        self.started = False
        self.cluster_start = self.cluster_end = 0.0
        self.row_waiting: list[int] = []
        self.other_waiting_max = 0
        self.by_relation: Counter = Counter()
        self.system_waits: list[str] = []
        self.system_wait_samples = 0

    def query(self, sql: str) -> list[tuple]:
        with self.lock:
            self.statements += 1
            return self.conn.execute(sql).fetchall()

    # CPU ---------------------------------------------------------------------------------------

    def _cpu_sample(self) -> float:
        """Record every child's CPU ticks; returns the whole cluster's CPU seconds so far."""
        kinds = {pid: (db, kind) for pid, db, kind in
                 self.query("SELECT pid, datname, backend_type FROM pg_stat_activity")}
        master = _stat(self.postmaster)
        cluster = master["utime"] + master["stime"] + master["cutime"] + master["cstime"]
        with open(f"/proc/{self.postmaster}/task/{self.postmaster}/children") as f:
            children = [int(pid) for pid in f.read().split()]
        for pid in children:
            try:
                stat = _stat(pid)
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
            ticks = stat["utime"] + stat["stime"]
            cluster += ticks
            entry = self.procs.setdefault((pid, stat["start"]), [None, ticks if not self.started else None, ticks])
            entry[2] = ticks
            if entry[0] is None and pid in kinds:
                entry[0] = self._category(pid, *kinds[pid])
        return cluster / TICKS

    def _category(self, pid: int, database: str | None, kind: str) -> str:
        if pid in self.bench_pids:
            return "bench"
        if kind == "client backend":
            return "ours" if database == self.database else "other databases"
        return "shared"  # checkpointer, WAL writer, background writer, autovacuum: every database's

    def cpu(self) -> dict[str, tuple[int, int, float]]:
        """Per category: (processes seen, of them exited, CPU seconds between start and end)."""
        out: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
        for (pid, _), (category, first, last) in self.procs.items():
            row = out[category or "unnamed"]
            row[0] += 1
            row[1] += not os.path.exists(f"/proc/{pid}")
            row[2] += (last - (first or 0)) / TICKS
        return {name: tuple(row) for name, row in out.items()}

    # locks -------------------------------------------------------------------------------------

    def sample(self) -> None:
        self._cpu_sample()
        waiting: set[int] = set()
        other: set[int] = set()
        system = False
        for pid, locktype, relation, account, blockers, query in self.query(LOCK_WAITS):
            if locktype not in ROW_LOCKS:
                other.add(pid)
                continue
            if pid in waiting:
                continue
            waiting.add(pid)
            self.by_relation[relation or "no row (e.g. a unique key being inserted)"] += 1
            if account and account.startswith("system"):
                system = True
                if len(self.system_waits) < 5:
                    self.system_waits.append(f"pid {pid} on {account} blocked by {blockers}: {query}")
        self.row_waiting.append(len(waiting))
        self.other_waiting_max = max(self.other_waiting_max, len(other))
        self.system_wait_samples += system

    def mark_start(self) -> None:
        self.cluster_start = self._cpu_sample()
        self.started = True
        self.start()

    def mark_end(self) -> None:
        self.stop()
        self.cluster_end = self._cpu_sample()

    # counters ----------------------------------------------------------------------------------

    def counters(self) -> tuple[dict[str, int], int]:
        """(``pg_stat_database`` counters of this database, plus ``statements`` from
        pg_stat_statements when installed; this sampler's statements so far). The flush first
        makes this backend's own pending statistics visible; another backend's are visible once
        it has exited (``wait_until_alone``), or up to 10 s after it went idle."""
        with self.lock:
            self.conn.execute("SELECT pg_stat_force_next_flush()")
            self.statements += 1
            mark = self.statements
            row = self.conn.execute("SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted "
                                    "FROM pg_stat_database WHERE datname = current_database()").fetchone()
            self.statements += 1
            values = dict(zip(("commits", "rollbacks", "inserted", "updated", "deleted"), row, strict=True))
            values["autovacuum"] = int(self.conn.execute(
                "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables").fetchone()[0])
            self.statements += 1
            if self.extension:
                values["statements"] = int(self.conn.execute(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0])
                self.statements += 1
        return values, mark

    def wait_until_alone(self, timeout: float = 30.0) -> None:
        """Wait until no other session of this database is left: a backend's statistics are
        flushed before it leaves ``pg_stat_activity``."""
        deadline = time.monotonic() + timeout
        while self.query("SELECT count(*) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")[0][0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sessions of {self.database} stayed open for {timeout:.0f} s")
            time.sleep(0.1)

    def close(self) -> None:
        self.stop()
        self.conn.close()


def _stat(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return {"ppid": int(fields[1]), "utime": int(fields[11]), "stime": int(fields[12]),
            "cutime": int(fields[13]), "cstime": int(fields[14]), "start": int(fields[19])}
