"""Benchmark: 1,000 automations due at the same minute, paid by the real sweep and real RQ workers.

Starts a private Redis, the provider sandbox (every provider call takes ``--latency`` s, VTpass's
duplicate window off) and a fresh database (a SQLite file; ``BENCH_DATABASE_URL`` selects another
database, e.g. PostgreSQL, whose tables are DROPPED and recreated). Seeds residents with funded
wallets and prepaid meters on both bills providers, one automation per meter, all due now; starts
an RQ worker pool (``--workers`` ``SimpleWorker`` processes forked from one parent that built the
app, so no fork per job); then enqueues the sweep job exactly as `rq cron` does every minute
(``--sweep cli`` runs ``flask payments sweep`` instead) and times it and the workers until every
payment is final. Fraud rules are off; ``PROVIDER_MAX_CONCURRENCY`` (``--cap``) limits calls per provider.

Prints progress lines, CPU and memory per process group, and as its last line:

    throughput: <n> payments in <s> s (<n/s>/s); serial estimate <s> s; speedup <x>; double debits <k>

The serial estimate is n x the mean purchase latency recorded in the provider call log. Double
debits are payments with more than one ``payment:<ref>:debit`` ledger entry (must be 0). Every
process it starts runs in its own process group and is stopped at the end, on Ctrl-C or failure.
Run with ``python bench/automation_throughput.py`` (``--help`` for the knobs).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AMOUNT_KOBO = 2_000_00
PROVIDERS = ("vtpass", "flutterwave")
FRAUD_OFF = ("FRAUD_ACCOUNT_PURCHASES_PER_HOUR", "FRAUD_ACCOUNT_PURCHASES_PER_DAY",
             "FRAUD_RESIDENT_PURCHASES_PER_HOUR", "FRAUD_RESIDENT_PURCHASES_PER_DAY", "FRAUD_AMOUNT_FACTOR",
             "FRAUD_SHARED_NUMBER_RESIDENTS")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=1000, help="automations due at once")
    parser.add_argument("--per-resident", type=int, default=4, help="automations (meters) per resident")
    parser.add_argument("--workers", type=int, default=56, help="RQ worker processes")
    parser.add_argument("--worker-mode", choices=("pool", "flask"), default="pool",
                        help="pool: SimpleWorkers forked from one parent; flask: separate `flask worker`s")
    parser.add_argument("--sweep", choices=("job", "cli"), default="job",
                        help="job: the rq cron sweep job run by a worker; cli: `flask payments sweep`")
    parser.add_argument("--cap", type=int, default=32, help="PROVIDER_MAX_CONCURRENCY (per provider)")
    parser.add_argument("--latency", type=float, default=1.0, help="sandbox seconds per provider call")
    parser.add_argument("--timeout", type=float, default=240.0, help="give up after this many seconds of processing")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory with the logs")
    parser.add_argument("--worker-pool", type=int, default=0, help=argparse.SUPPRESS)  # internal: run the pool
    return parser.parse_args(argv)


# --- processes ---------------------------------------------------------------------------------

class Children:
    """Processes started in their own process groups; ``stop()`` ends every group."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.handles: list = []  # objects with stop() (Redis, sandbox): temporary files go too

    def start(self, name: str, argv: list[str], env: dict, log_path: Path) -> subprocess.Popen:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        """Newest first (workers before Redis, so they shut down cleanly), then temporary files."""
        for proc in reversed(self.procs.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group (pool children)
            with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
                proc.wait(timeout=5)
        for handle in self.handles:
            handle.stop()


def machine_busy() -> float:
    """CPU seconds all processes on this machine have used since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def usage_where(matches) -> tuple[int, float, float]:
    """(processes, CPU seconds, PSS MiB) of the live processes for which ``matches(pgid, cmdline)``,
    from /proc; CPU includes their reaped children's (RQ work horses)."""
    ticks = os.sysconf("SC_CLK_TCK")
    count, cpu, pss_kib = 0, 0.0, 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            if not matches(int(fields[2]), cmdline):
                continue
            cpu += sum(int(x) for x in fields[11:15]) / ticks
            count += 1
            with open(f"/proc/{entry.name}/smaps_rollup") as f:
                pss_kib += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, IndexError, ValueError):
            continue
    return count, cpu, pss_kib / 1024


# --- seeding -----------------------------------------------------------------------------------

def seed(n: int, per_resident: int, due: datetime) -> int:
    """Residents with funded wallets, meters on both providers and one automation per meter, due at
    ``due``. Returns the number of automations."""
    from flask import current_app

    from webapp.extensions import db
    from webapp.infra import crypto
    from webapp.models import Automation, Estate, User, UtilityAccount
    from webapp.providers import registry
    from webapp.services import catalogue, ledger
    from webapp.services.automations import schedule_of

    estate = Estate(name="Bench Estate", invite_code="BENCH001")
    db.session.add(estate)
    db.session.commit()
    entries = {}
    for api_provider in PROVIDERS:
        catalogue.sync_from_provider(estate.id, registry.utility_service(api_provider, current_app.config))
        db.session.commit()
        entries[api_provider] = next(e for e in catalogue.active_for_estate(estate.id, "electricity")
                                     if e.api_provider == api_provider and e.meter_type == "prepaid")
    local = due.astimezone(__import__("zoneinfo").ZoneInfo("Africa/Lagos"))
    schedule = {"target_kind": "utility", "amount_mode": "fixed", "amount_kobo": AMOUNT_KOBO,
                "schedule_kind": "monthly_day", "day_of_month": local.day,
                "time_of_day": local.time().replace(second=0, microsecond=0),
                "starts_on": date(local.year, local.month, 1), "enabled": True, "timezone": "Africa/Lagos",
                "interval_unit": "month", "interval_count": 1, "weekdays": ""}
    probe = Automation(**schedule)
    next_run = schedule_of(probe).next_after(due, inclusive=True)
    assert next_run == due, f"schedule does not run at {due}: {next_run}"

    template = User(email="template@bench.test", full_name="Template")
    template.set_password("bench-password-1")
    password_hash = template.password_hash
    residents = (n + per_resident - 1) // per_resident
    made = 0
    for r in range(residents):
        user = User(email=f"resident{r}@bench.test", full_name=f"Resident {r}", role="resident", estate=estate,
                    phone="+2348031234567", password_hash=password_hash)
        db.session.add(user)
        db.session.flush()
        for k in range(min(per_resident, n - made)):
            entry = entries[PROVIDERS[(r + k) % len(PROVIDERS)]]
            number = f"7{r:06d}{k:04d}"
            account = UtilityAccount(user_id=user.id, provider_id=entry.id, nickname=f"Meter {k + 1}",
                                     customer_number=number, number_hash=crypto.lookup_hash(number),
                                     number_last4=number[-4:], customer_name=f"Resident {r}",
                                     meter_type="prepaid", validated_at=due)
            db.session.add(account)
            db.session.flush()
            db.session.add(Automation(user_id=user.id, estate_id=estate.id, utility_account_id=account.id,
                                      next_run_at=due, **schedule))
            made += 1
        ledger.credit_funding(user.id, 10 * per_resident * (AMOUNT_KOBO + 1_000_00), "paystack", f"bench-{r}")
        if r % 50 == 49:
            db.session.commit()
    db.session.commit()
    return made


# --- measuring ---------------------------------------------------------------------------------

def status_counts() -> dict[str, int]:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Payment

    rows = db.session.execute(select(Payment.status, func.count()).group_by(Payment.status)).all()
    db.session.rollback()  # next poll reads the latest commits
    return {status: count for status, count in rows}


def results(funded_per_resident: int) -> dict:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Account, EmailMessage, JournalEntry, Payment, ProviderCallLog
    from webapp.services import ledger

    emails = dict(db.session.execute(select(EmailMessage.status, func.count()).group_by(EmailMessage.status)).all())
    mean_ms = db.session.scalar(select(func.avg(ProviderCallLog.latency_ms))
                                .where(ProviderCallLog.operation == "purchase"))
    calls = dict(db.session.execute(select(ProviderCallLog.operation, func.count())
                                    .group_by(ProviderCallLog.operation)).all())
    double = db.session.scalar(select(func.count()).select_from(
        select(Payment.id).join(JournalEntry, Payment.reference == JournalEntry.reference)
        .where(JournalEntry.idempotency_key == "payment:" + Payment.reference + ":debit")
        .group_by(Payment.id).having(func.count() > 1).subquery()))
    # A second look at the same money: every wallet is exactly its funding minus its payments.
    spent = dict(db.session.execute(
        select(Payment.user_id, func.sum(Payment.amount_kobo + Payment.fee_kobo))
        .where(Payment.status.in_(("debited", "submitted", "unknown", "succeeded"))).group_by(Payment.user_id)
    ).all())
    wrong = sum(1 for user_id, balance in db.session.execute(
        select(Account.user_id, Account.balance_kobo).where(Account.user_id.is_not(None))).all()
        if balance != funded_per_resident - int(spent.get(user_id, 0)))
    return {"mean_s": (float(mean_ms) / 1000) if mean_ms else None, "calls": calls, "double": int(double or 0),
            "emails": emails,
            "wrong_wallets": wrong, "invariants": ledger.check_invariants()}


# --- the run -----------------------------------------------------------------------------------

def bench_env(db_url: str, redis_url: str, provider_settings: dict, cap: int) -> dict:
    env = {**os.environ, **provider_settings, "DATABASE_URL": db_url, "REDIS_URL": redis_url,
           "APP_ENV": "development", "MAIL_SERVER": "", "PROVIDER_MAX_CONCURRENCY": str(cap),
           "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.update({name: "0" for name in FRAUD_OFF})
    return env


def start_workers(args, env: dict, workdir: Path, children: Children, conn) -> None:
    """``pool``: one process builds the app and forks SimpleWorkers (no fork per job). ``flask``:
    separate ``flask worker`` processes (RQ's forking Worker: one fork per job)."""
    from rq import Worker

    if args.worker_mode == "pool":
        children.start("workers", [sys.executable, __file__, "--worker-pool", str(args.workers)], env,
                       workdir / "workers.log")
    else:
        for i in range(args.workers):
            children.start(f"workers/{i}", [sys.executable, "-m", "flask", "--app", "webapp", "worker"], env,
                           workdir / "workers.log")
    deadline = time.monotonic() + 120 + args.workers
    while len(Worker.all(connection=conn)) < args.workers:
        dead = [name for name, p in children.procs.items() if name.startswith("workers") and p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not start; see {workdir / 'workers.log'}")
        time.sleep(0.2)


def role_usage(children: Children, database: str | None) -> dict[str, list[float]]:
    """[processes, CPU seconds, PSS MiB] per role ("workers" sums every worker process group), and
    PostgreSQL's server processes for ``database`` (they are not in our process groups)."""
    usage: dict[str, list[float]] = {}
    for name, proc in children.procs.items():
        if name != "sweep":
            role = usage.setdefault(name.split("/")[0], [0, 0.0, 0.0])
            for i, value in enumerate(usage_where(lambda pgid, _, pid=proc.pid: pgid == pid)):
                role[i] += value
    if database:
        usage["postgres"] = list(usage_where(lambda _, cmdline: cmdline.startswith("postgres:")
                                             and f" {database} " in cmdline))
    return usage


def start_sweep(how: str, env: dict, workdir: Path, children: Children, conn):
    """Start one sweep now and return a poll function: None while it runs, then (summary, CPU s).
    ``job``: the ``automations-sweep`` job that `rq cron` enqueues every minute, run by a worker;
    ``cli``: ``flask payments sweep`` in its own process."""
    from rq import Queue

    from workers.automation_jobs import run_sweep

    if how == "job":
        job = Queue(run_sweep.options.queue, connection=conn).enqueue(run_sweep, job_id="bench-sweep",
                                                                      job_timeout=run_sweep.options.timeout)

        def poll():
            status = job.get_status(refresh=True)
            if status == "failed":
                raise RuntimeError(f"the sweep job failed; see {workdir / 'workers.log'}")
            return (job.return_value(refresh=True), 0.0) if status == "finished" else None

        return poll
    proc = children.start("sweep", [sys.executable, "-m", "flask", "--app", "webapp", "payments", "sweep"], env,
                          workdir / "sweep.log")

    def poll():
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if not pid:
            return None
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"the sweep failed; see {workdir / 'sweep.log'}")
        return (workdir / "sweep.log").read_text().strip().splitlines()[-1], rusage.ru_utime + rusage.ru_stime

    return poll


def watch(n: int, sweep_done, timeout: float, conn) -> dict:
    """Poll until the sweep has finished and every payment is final (or ``timeout``); print progress."""
    from rq import Queue

    from webapp.infra import provider_slots
    from webapp.jobs import PAYMENTS

    payments_queue = Queue(PAYMENTS, connection=conn)
    slots = {p: provider_slots.slots_for(p) for p in PROVIDERS}
    seen = {"peak": dict.fromkeys(PROVIDERS, 0), "sweep_s": None, "sweep_cpu": 0.0, "final": 0}
    t0, last_check, last_print = time.monotonic(), 0.0, 0.0
    while True:
        time.sleep(0.1)
        now = time.monotonic() - t0
        for p in PROVIDERS:
            seen["peak"][p] = max(seen["peak"][p], slots[p].holders() if slots[p] else 0)
        if seen["sweep_s"] is None and (swept := sweep_done()) is not None:
            seen["sweep_s"], seen["sweep_cpu"] = now, swept[1]
            print(f"[{now:5.1f} s] {swept[0]}", flush=True)
        if now - last_check < 0.5:
            continue
        last_check = now
        counts = status_counts()
        seen["final"] = sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled", "refunded"))
        done = seen["sweep_s"] is not None and seen["final"] >= n
        if done or now - last_print >= 2:
            last_print = now
            print(f"[{now:5.1f} s] payments {sum(counts.values())} created, {seen['final']} final {counts}; "
                  f"jobs queued {payments_queue.count}; peak slots in use "
                  + ", ".join(f"{p} {seen['peak'][p]}" for p in PROVIDERS), flush=True)
        if done or now > timeout:
            if not done:
                print(f"gave up after {timeout:.0f} s with {seen['final']} of {n} payments final", flush=True)
            seen["elapsed"], seen["queued"] = time.monotonic() - t0, payments_queue.count
            return seen


def run(args: argparse.Namespace, workdir: Path, children: Children) -> int:
    from webapp import create_app
    from webapp.extensions import db
    from webapp.infra.local_services import start_redis
    from webapp.infra.redis_client import redis_connection
    from webapp.sandbox.runner import start_sandbox

    db_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    redis = start_redis()
    children.handles.append(redis)
    children.procs["redis"] = redis.process
    sandbox = start_sandbox(latency=0.0, duplicate_window=0.0)
    children.handles.append(sandbox)
    children.procs["sandbox"] = sandbox.process
    os.environ.update(bench_env(db_url, redis.url, sandbox.provider_settings(), args.cap))
    app = create_app()
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    print(f"database {'SQLite' if sqlite else 'PostgreSQL'}, {redis.description}, sandbox latency {args.latency} s, "
          f"cap {args.cap} calls per provider, {args.workers} workers ({args.worker_mode})", flush=True)
    with app.app_context():
        db.drop_all()
        db.create_all()
        due = datetime.now(UTC).replace(second=0, microsecond=0)
        started = time.monotonic()
        n = seed(args.payments, args.per_resident, due)
        print(f"seeded {n} automations due {due:%H:%M} UTC for {-(-n // args.per_resident)} residents "
              f"in {time.monotonic() - started:.1f} s", flush=True)
        env, conn = dict(os.environ), redis_connection()
        start_workers(args, env, workdir, children, conn)
        database = None if sqlite else db.engine.url.database
        before = role_usage(children, database)
        print(f"{args.workers} workers ready: {before['workers'][0]:.0f} processes, "
              f"PSS {before['workers'][2]:.0f} MiB", flush=True)
        sandbox.configure(latency=args.latency)
        busy_before, ours_before = machine_busy(), time.process_time() + sum(u[1] for u in before.values())
        seen = watch(n, start_sweep(args.sweep, env, workdir, children, conn), args.timeout, conn)
        final, elapsed = seen["final"], seen["elapsed"]
        busy, usage = machine_busy() - busy_before, role_usage(children, database)
        ours = time.process_time() + sum(u[1] for u in usage.values()) + seen["sweep_cpu"] - ours_before
        print(f"  machine: {os.cpu_count()} CPUs, {busy:.0f} CPU-s busy during the {elapsed:.1f} s run, "
              f"{ours:.0f} of them ours, {max(0.0, busy - ours):.0f} other processes'; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        for name, (procs, cpu, pss) in usage.items():
            print(f"  {name}: {procs:.0f} processes, {cpu - before[name][1]:.1f} s CPU during the run, "
                  f"PSS {pss:.0f} MiB", flush=True)
        print(f"  sweep ({args.sweep}): finished at {seen['sweep_s'] or 0:.1f} s"
              + (f", {seen['sweep_cpu']:.1f} s CPU" if args.sweep == "cli" else " (its CPU is in the workers')"),
              flush=True)
        tx = {k.decode(): float(v) for k, v in conn.hgetall("bench:tx").items()}
        if tx.get("count"):
            print(f"  SQLite write transactions of the workers: {tx['count']:.0f}; their first write waited "
                  f"{1000 * tx['wait'] / tx['count']:.1f} ms on average; they held the write lock "
                  f"{1000 * tx['hold'] / tx['count']:.1f} ms on average, {tx['hold']:.1f} s in all "
                  f"({tx['hold'] / elapsed:.0%} of the run)", flush=True)
        found = results(10 * args.per_resident * (AMOUNT_KOBO + 1_000_00))
        print(f"  provider calls {found['calls']}; emails {found['emails']}, jobs still queued {seen['queued']}; "
              f"wallets off their expected balance: {found['wrong_wallets']}; ledger invariants: "
              f"{'ok' if not found['invariants'] else found['invariants']}", flush=True)
    serial = final * (found["mean_s"] or 1.0)
    print(f"throughput: {final} payments in {elapsed:.1f} s ({final / elapsed:.1f}/s); serial estimate "
          f"{serial:.0f} s; speedup {serial / elapsed:.1f}; double debits {found['double']}", flush=True)
    ok = final == n and not found["double"] and not found["wrong_wallets"] and not found["invariants"]
    return 0 if ok else 1


def trace_write_lock(engine, redis) -> None:
    """SQLite instrumentation of this process's engine (inherited by the forked workers): how long
    each transaction's first write waited for the database's one write lock, and how long the
    transaction then held it until its commit or rollback ended (Redis hash ``bench:tx``)."""
    from sqlalchemy import event

    held: dict[int, float] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, *args):
        conn.info["bench_t"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, *args):
        if id(conn.connection) not in held and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            held[id(conn.connection)] = now = time.perf_counter()
            redis.hincrbyfloat("bench:tx", "wait", now - conn.info["bench_t"])

    for name in ("do_commit", "do_rollback"):
        def ended(dbapi_connection, original=getattr(engine.dialect, name)):
            try:
                original(dbapi_connection)
            finally:
                began = held.pop(id(dbapi_connection), None)
                if began is not None:
                    pipe = redis.pipeline(transaction=False)
                    pipe.hincrbyfloat("bench:tx", "hold", time.perf_counter() - began).hincrby("bench:tx", "count", 1)
                    pipe.execute()

        setattr(engine.dialect, name, ended)


def worker_pool(count: int) -> int:
    """Build the app once, then fork ``count`` SimpleWorkers that share it (no fork per job)."""
    from redis import Redis
    from rq import SimpleWorker
    from rq.worker_pool import WorkerPool

    import webapp.services.notify.jobs  # noqa: F401  (imported before the fork, not in every child)
    import webapp.services.payments.jobs  # noqa: F401
    import workers.automation_jobs  # noqa: F401
    from webapp import create_app, jobs

    app = create_app()
    jobs.use_app(app)
    redis = Redis.from_url(app.config["REDIS_URL"])
    with app.app_context():
        from webapp.extensions import db

        if db.engine.dialect.name == "sqlite":
            trace_write_lock(db.engine, redis)
    pool = WorkerPool(list(jobs.QUEUES), connection=redis, num_workers=count, worker_class=SimpleWorker)
    pool.start(burst=False, logging_level="WARNING")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker_pool:
        return worker_pool(args.worker_pool)

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # also when started with SIGINT ignored
        signal.signal(signum, stop)
    workdir = Path(tempfile.mkdtemp(prefix="autopay-bench-"))
    children = Children()
    try:
        return run(args, workdir, children)
    except KeyboardInterrupt:
        print("interrupted; stopping everything", flush=True)
        return 130
    except Exception:
        for log in sorted(workdir.glob("*.log")):
            print(f"--- end of {log.name}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        children.stop()
        if args.keep_logs:
            print(f"logs kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
