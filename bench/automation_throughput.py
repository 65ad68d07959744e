"""Benchmark: automations due at the same minute, paid by the real sweep and real RQ workers.

Starts a private Redis, the provider sandbox (every provider call takes ``--latency`` s, VTpass's
duplicate window off) and a fresh database (a SQLite file; ``BENCH_DATABASE_URL`` selects another
database, e.g. PostgreSQL, whose tables are DROPPED and recreated). Seeds residents with funded
wallets and prepaid meters on both bills providers, one automation per meter: ``--automations`` of
them (bulk inserts through SQLAlchemy Core), ``--due`` (1,000) due now and spread evenly over the
residents, the rest later in the month. Starts an RQ worker pool (``--workers`` ``SimpleWorker``
processes forked from one parent that built the app, so no fork per job; payments are bought in
batches of up to 32 per job with concurrent calls, so a few processes fill the providers' caps);
then enqueues the sweep job exactly as `rq cron` does every minute (``--sweep cli`` runs ``flask
payments sweep`` instead) and times it and the workers until every payment is final, then lets the
workers finish what the payments queued (emails) before reading the counters. Fraud rules are off;
``PROVIDER_MAX_CONCURRENCY`` (``--cap``) limits calls per provider.

What it measures (per payment unless said otherwise; every figure is over the same interval, from
the sweep's enqueue until the queues are drained):
- worker CPU: every process of the worker pool's process group (/proc, reaped children included);
  the sweep runs as a job in a worker, so its CPU is in there too. The pool's own SimpleWorker
  subclass (``bench/support/throughput_probes.py``) also charges each job's process CPU to its
  function, which separates the sweep's CPU from the payments' even in the same workers;
- SQL: statements (transaction control such as BEGIN and SAVEPOINT counted apart) and transactions,
  counted in the worker processes by SQLAlchemy event listeners the pool's parent installs before
  it forks (not in ``--worker-mode flask`` or ``--sweep cli``). On PostgreSQL also the server's
  ``pg_stat_database`` transactions of the bench database (``pg_stat_statements`` calls when that
  extension is installed), less the bench's own, read once the workers have stopped (a backend
  flushes its statistics when it exits, otherwise up to 10 s after it went idle);
- Redis: ``INFO commandstats`` calls before and after (commands run inside Lua scripts count too),
  less the commands the bench itself sent (its client counts them);
- provider slots: the live leases in each provider's slot set, sampled every 50 ms (the sandbox
  cannot report its own in-flight peak); peak against the cap, and the mean over busy samples;
- PostgreSQL server CPU: the cluster's processes (the postmaster's children, /proc) sampled every
  100 ms, split into this database's backends, the cluster's shared processes (WAL writer,
  checkpointer, autovacuum...), other databases' backends and the bench's own; a backend that
  exits keeps the CPU of its last sample. The whole cluster's total, from the postmaster's
  reaped-children time, is exact but counts every database;
- PostgreSQL lock waits: sessions of this database waiting for a row lock (``pg_locks`` not
  granted, ``transactionid`` or ``tuple``), sampled every 100 ms: mean and maximum; and whether a
  waiter's row was a system account (``accounts.kind = 'system'``): the waiter's ``tuple`` lock
  names the relation and row, whose kind is read by ctid while the wait lasts;
- the machine: CPU busy from /proc/stat, ours and other processes', and the load average.

Prints progress lines, these figures, and as its last line (one line):

    throughput: <n> payments in <s> s (<n/s>/s); serial estimate <s> s; speedup <x>; double debits <k>;
    limit <s> s; ratio <wall/limit>; cpu/payment <ms> ms

The serial estimate is n x the mean purchase latency recorded in the provider call log; the limit is
what the caps allow, n x latency / (2 providers x cap); cpu/payment is the product's CPU: the
workers', Redis's and (PostgreSQL) the database server's, this database's backends and the shared
processes (the sandbox stands for the providers and the bench is not the product). Double debits
are payments with more than one ``payment:<ref>:debit`` ledger entry (must be 0).

``--sweep-only`` measures the sweep alone: one worker serves only the periodic queue, so the
payments it creates wait unprocessed; the last line is then the sweep's time and CPU per due
automation. Use it to check that the sweep's cost grows with due rows only, e.g. ``--automations
10000 --due 1000`` against ``--automations 100000 --due 10000`` (the payments of 10,000 would take
minutes to buy, and their CPU would drown the sweep's on a small machine).

Every process it starts runs in its own process group and is stopped at the end, on Ctrl-C or
failure. Run with ``python bench/automation_throughput.py`` (``--help`` for the knobs).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import throughput_probes as probes  # noqa: E402  (after the path is set)

AMOUNT_KOBO = 2_000_00
PROVIDERS = ("vtpass", "flutterwave")
FINAL = ("succeeded", "failed", "cancelled", "refunded")
FRAUD_OFF = ("FRAUD_ACCOUNT_PURCHASES_PER_HOUR", "FRAUD_ACCOUNT_PURCHASES_PER_DAY",
             "FRAUD_RESIDENT_PURCHASES_PER_HOUR", "FRAUD_RESIDENT_PURCHASES_PER_DAY", "FRAUD_AMOUNT_FACTOR",
             "FRAUD_SHARED_NUMBER_RESIDENTS")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--due", "--payments", type=int, default=1000, dest="due", help="automations due at once")
    parser.add_argument("--automations", type=int, default=None,
                        help="automations in all (default: --due); the others are due later in the month")
    parser.add_argument("--per-resident", type=int, default=4, help="automations (meters) per resident")
    parser.add_argument("--workers", type=int, default=4, help="RQ worker processes")
    parser.add_argument("--worker-mode", choices=("pool", "flask"), default="pool",
                        help="pool: SimpleWorkers forked from one parent; flask: separate `flask worker`s")
    parser.add_argument("--sweep", choices=("job", "cli"), default="job",
                        help="job: the rq cron sweep job run by a worker; cli: `flask payments sweep`")
    parser.add_argument("--sweep-only", action="store_true",
                        help="time the sweep alone: one worker serves the periodic queue, no payment is bought")
    parser.add_argument("--cap", type=int, default=32, help="PROVIDER_MAX_CONCURRENCY (per provider)")
    parser.add_argument("--latency", type=float, default=1.0, help="sandbox seconds per provider call")
    parser.add_argument("--timeout", type=float, default=240.0, help="give up after this many seconds of processing")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile the CPU of every job's own thread (cProfile) and print the N functions "
                             "with the most time of their own (a batch's purchase threads are not profiled)")
    parser.add_argument("--top-sql", type=int, default=0, metavar="N",
                        help="also time every statement in the workers and print the N they spent most time in")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory with the logs")
    # internal: run the worker pool (this many workers, these queues, counters written here)
    parser.add_argument("--worker-pool", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--pool-queues", default="", help=argparse.SUPPRESS)
    parser.add_argument("--stats-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.automations = args.automations or args.due
    if args.automations < args.due:
        parser.error("--automations must be at least --due")
    if args.sweep_only:
        args.workers, args.sweep, args.worker_mode = 1, "job", "pool"
    return args


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

    def stop(self, prefix: str = "") -> None:
        """Newest first (workers before Redis, so they shut down cleanly), then temporary files;
        with ``prefix``, only the groups whose name starts with it."""
        for name, proc in reversed(self.procs.items()):
            if not name.startswith(prefix):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group (pool children)
            with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
                proc.wait(timeout=5)
        if not prefix:
            for handle in reversed(self.handles):  # samplers before the services they sample
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


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# --- seeding -----------------------------------------------------------------------------------

def funded_per_resident(per_resident: int) -> int:
    return 10 * per_resident * (AMOUNT_KOBO + 1_000_00)


def bulk_insert(model, rows: list[dict]) -> list[int]:
    """Insert ``rows`` into ``model``'s table with Core (many rows per statement); their new ids, in order."""
    from sqlalchemy import insert

    from webapp.extensions import db

    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for start in range(0, len(rows), 10_000):
        ids += db.session.execute(statement, rows[start:start + 10_000]).scalars().all()
    return ids


def seed(total: int, due_count: int, per_resident: int, due: datetime) -> int:
    """Residents with funded wallets, meters on both providers and one automation per meter:
    ``total`` automations, ``due_count`` of them (spread evenly over the residents) due at ``due``
    and the rest later in the month. The system accounts exist already, as in production. Returns
    the number due."""
    from flask import current_app
    from sqlalchemy import update

    from webapp.extensions import db
    from webapp.infra import crypto
    from webapp.models import Account, Automation, Estate, JournalEntry, Posting, User, UtilityAccount
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
    local = due.astimezone(ZoneInfo("Africa/Lagos"))
    schedule = {"target_kind": "utility", "amount_mode": "fixed", "amount_kobo": AMOUNT_KOBO,
                "schedule_kind": "monthly_day", "day_of_month": local.day,
                "time_of_day": local.time().replace(second=0, microsecond=0),
                "starts_on": date(local.year, local.month, 1), "enabled": True, "timezone": "Africa/Lagos",
                "interval_unit": "month", "interval_count": 1, "weekdays": ""}
    later = {**schedule, "day_of_month": local.day % 28 + 1}
    next_run = schedule_of(Automation(**schedule)).next_after(due, inclusive=True)
    assert next_run == due, f"schedule does not run at {due}: {next_run}"
    later_run = schedule_of(Automation(**later)).next_after(due)
    assert later_run > due, f"the later schedule runs at {later_run}"

    funding = ledger.system_account("funding:paystack")
    for code in ("clearing:vtpass", "clearing:flutterwave", "fees"):
        ledger.system_account(code)
    db.session.commit()
    template = User(email="template@bench.test", full_name="Template")
    template.set_password("bench-password-1")
    residents = (total + per_resident - 1) // per_resident
    user_ids = bulk_insert(User, [
        {"email": f"resident{r}@bench.test", "full_name": f"Resident {r}", "role": "resident",
         "estate_id": estate.id, "phone": "+2348031234567", "password_hash": template.password_hash}
        for r in range(residents)])
    # Each wallet funded once, as ledger.credit_funding would: entry, two postings, balances.
    amount = funded_per_resident(per_resident)
    wallet_ids = bulk_insert(Account, [{"kind": "resident_wallet", "user_id": user_id, "balance_kobo": amount}
                                       for user_id in user_ids])
    entry_ids = bulk_insert(JournalEntry, [
        {"idempotency_key": ledger.funding_credit_key(f"bench-{r}"), "kind": "funding_credit",
         "memo": "Wallet funding via Paystack", "reference": f"bench-{r}"} for r in range(residents)])
    bulk_insert(Posting, [{"entry_id": entry_id, "account_id": account_id, "amount_kobo": kobo}
                          for entry_id, wallet_id in zip(entry_ids, wallet_ids, strict=True)
                          for account_id, kobo in ((wallet_id, amount), (funding.id, -amount))])
    db.session.execute(update(Account).where(Account.id == funding.id).values(balance_kobo=-amount * residents))

    meters, automations = [], []
    for i in range(total):
        r, k = divmod(i, per_resident)
        entry = entries[PROVIDERS[(r + k) % len(PROVIDERS)]]
        number = f"7{r:06d}{k:04d}"
        meters.append({"user_id": user_ids[r], "provider_id": entry.id, "nickname": f"Meter {k + 1}",
                       "customer_number": number, "number_hash": crypto.lookup_hash(number),
                       "number_last4": number[-4:], "customer_name": f"Resident {r}", "meter_type": "prepaid",
                       "validated_at": due})
        is_due = (i + 1) * due_count // total > i * due_count // total  # due_count of total, evenly
        automations.append({"user_id": user_ids[r], "estate_id": estate.id,
                            "next_run_at": due if is_due else later_run, **(schedule if is_due else later)})
    for automation, meter_id in zip(automations, bulk_insert(UtilityAccount, meters), strict=True):
        automation["utility_account_id"] = meter_id
    bulk_insert(Automation, automations)
    db.session.commit()
    return sum(1 for a in automations if a["next_run_at"] == due)


# --- measuring ---------------------------------------------------------------------------------

def status_counts() -> dict[str, int]:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Payment

    rows = db.session.execute(select(Payment.status, func.count()).group_by(Payment.status)).all()
    db.session.rollback()  # next poll reads the latest commits
    return {status: count for status, count in rows}


def results(funded: int) -> dict:
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
        if balance != funded - int(spent.get(user_id, 0)))
    return {"mean_s": (float(mean_ms) / 1000) if mean_ms else None, "calls": calls, "double": int(double or 0),
            "emails": emails, "payments": sum(status_counts().values()),
            "wrong_wallets": wrong, "invariants": ledger.check_invariants()}


class SqlCounter:
    """Statements and transactions of this (the bench's) process on ``engine``, to be taken out of
    the server's counts."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements = self.transactions = 0
        event.listen(engine, "before_cursor_execute", lambda *args: self._add("statements"))
        event.listen(engine, "begin", lambda conn: self._add("transactions"))

    def _add(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)


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

    from webapp.jobs import PERIODIC, QUEUES

    if args.worker_mode == "pool":
        queues = [PERIODIC] if args.sweep_only else list(QUEUES)
        children.start("workers", [sys.executable, __file__, "--worker-pool", str(args.workers),
                                   "--pool-queues", ",".join(queues), "--stats-dir", str(workdir)]
                       + (["--top-sql", str(args.top_sql)] if args.top_sql else [])
                       + (["--profile", str(args.profile)] if args.profile else []), env,
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


def role_usage(children: Children) -> dict[str, list[float]]:
    """[processes, CPU seconds, PSS MiB] per role ("workers" sums every worker process group)."""
    usage: dict[str, list[float]] = {}
    for name, proc in children.procs.items():
        if name != "sweep":
            role = usage.setdefault(name.split("/")[0], [0, 0.0, 0.0])
            for i, value in enumerate(usage_where(lambda pgid, _, pid=proc.pid: pgid == pid)):
                role[i] += value
    return usage


def start_sweep(how: str, env: dict, workdir: Path, children: Children, conn):
    """Start one sweep now and return a poll function: None while it runs, then (summary, CPU s).
    ``job``: the ``automations-sweep`` job that `rq cron` enqueues every minute, run by a worker
    (its CPU is read from the workers' counters later: 0 here); ``cli``: ``flask payments sweep``
    in its own process (its whole CPU, the app's start included)."""
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


def watch(n: int, sweep_done, timeout: float, conn, slots: probes.SlotSampler, sweep_only: bool) -> dict:
    """Poll until the sweep has finished and every payment is final (``sweep_only``: until the
    sweep has finished), or ``timeout``; print progress."""
    from rq import Queue

    from webapp.jobs import PAYMENTS

    payments_queue = Queue(PAYMENTS, connection=conn)
    seen = {"sweep_s": None, "sweep_cpu": 0.0, "final": 0}
    t0, last_print = time.monotonic(), 0.0
    while True:
        time.sleep(0.5)
        now = time.monotonic() - t0
        if seen["sweep_s"] is None and (swept := sweep_done()) is not None:
            seen["sweep_s"], seen["sweep_cpu"] = now, swept[1]
            print(f"[{now:5.1f} s] {swept[0]}", flush=True)
        counts = status_counts()
        seen["final"] = sum(counts.get(s, 0) for s in FINAL)
        done = seen["sweep_s"] is not None and (sweep_only or seen["final"] >= n)
        if done or now - last_print >= 2:
            last_print = now
            print(f"[{now:5.1f} s] payments {sum(counts.values())} created, {seen['final']} final {counts}; "
                  f"jobs queued {payments_queue.count}; peak slots in use "
                  + ", ".join(f"{p} {slots.peak[p]}" for p in PROVIDERS), flush=True)
        if done or now > timeout:
            if not done:
                print(f"gave up after {timeout:.0f} s with {seen['final']} of {n} payments final", flush=True)
            seen["elapsed"], seen["queued"] = time.monotonic() - t0, payments_queue.count
            return seen


def drain(conn, queues: list[str], timeout: float = 60.0) -> float:
    """Wait until ``queues`` are empty and every worker is idle (the emails the payments queued are
    sent, every job's counters written); the seconds it took."""
    from rq import Queue, Worker

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (all(Queue(name, connection=conn).count == 0 for name in queues)
                and all(w.get_state() == "idle" for w in Worker.all(connection=conn))):
            break
        time.sleep(0.2)
    return time.monotonic() - started


def ms(seconds: float, n: int) -> str:
    return f"{1000 * seconds / max(n, 1):.2f} ms"


def report_sql(counters: dict, n: int, what: str) -> None:
    if not counters:
        print("  SQL in the workers: not counted (only the bench's worker pool is instrumented)", flush=True)
        return
    print(f"  SQL in the workers: {counters.get('statements', 0) / n:.1f} statements per {what} "
          f"(+ {counters.get('control', 0) / n:.1f} BEGIN/SAVEPOINT/RELEASE), "
          f"{counters.get('begin', 0) / n:.2f} SQLAlchemy transactions per {what} "
          f"({counters.get('commit', 0):.0f} commits, {counters.get('rollback', 0):.0f} rollbacks in all)", flush=True)
    for job, c in sorted(probes.per_job(counters).items(), key=lambda item: -item[1].get("cpu", 0)):
        if job != "outside jobs":
            print(f"    {job}: {c.get('jobs', 0):.0f} jobs, {c.get('cpu', 0):.1f} s CPU ({ms(c.get('cpu', 0), n)} per "
                  f"{what}), {c.get('wall', 0):.1f} s in jobs, {c.get('statements', 0):.0f} statements, "
                  f"{c.get('begin', 0):.0f} transactions", flush=True)


def report_postgres(pg: probes.PostgresSampler, before: tuple, after: tuple, bench_sql: tuple[int, int],
                    n: int, what: str) -> float:
    """Print the PostgreSQL figures; returns the server CPU seconds charged to the product (this
    database's backends and the shared processes)."""
    (start, mark0), (end, mark1) = before, after
    own = mark1 - mark0  # the sampler's statements, each a transaction
    xacts = end["commits"] + end["rollbacks"] - start["commits"] - start["rollbacks"] - own - bench_sql[1]
    rollbacks = end["rollbacks"] - start["rollbacks"] - bench_sql[1]  # the bench's status polls roll back
    line = (f"  PostgreSQL pg_stat_database: {xacts / n:.2f} transactions per {what} ({xacts} in all, the bench's "
            f"{own + bench_sql[1]} taken out; {rollbacks} rollbacks; sessions' start-ups and "
            f"{end['autovacuum'] - start['autovacuum']} autovacuum/analyze runs included); rows "
            + ", ".join(f"{end[k] - start[k]} {k}" for k in ("inserted", "updated", "deleted")))
    if "statements" in end:
        statements = end["statements"] - start["statements"] - own - bench_sql[0]
        line += f"; pg_stat_statements: {statements / n:.1f} statements per {what}"
    else:
        line += "; pg_stat_statements not installed (statements are counted in the workers)"
    print(line, flush=True)
    cpu = pg.cpu()
    cluster = pg.cluster_end - pg.cluster_start
    product = sum(cpu.get(k, (0, 0, 0.0))[2] for k in ("ours", "shared", "unnamed"))
    print(f"  postgres: {product:.1f} s CPU during the run, {ms(product, n)} per {what} (this database's backends "
          f"and the cluster's shared processes, sampled every 100 ms); whole cluster {cluster:.1f} s "
          f"(every database, exited backends included)", flush=True)
    names = {"ours": f"{pg.database}'s backends", "shared": "shared processes", "bench": "the bench's sessions",
             "unnamed": "processes never seen in pg_stat_activity"}
    for name, (procs, exited, seconds) in sorted(cpu.items()):
        print(f"    {names.get(name, name)}: {procs} processes ({exited} exited during the run), {seconds:.2f} s CPU",
              flush=True)
    waiting = pg.row_waiting or [0]
    print(f"  row-lock waits ({len(pg.row_waiting)} samples every 100 ms): mean {sum(waiting) / len(waiting):.2f}, "
          f"max {max(waiting)} sessions waiting; other lock waits max {pg.other_waiting_max}; session-samples by "
          f"relation {dict(pg.by_relation.most_common())}", flush=True)
    print(f"  waits on a system account's row: {pg.system_wait_samples} samples"
          + ("".join(f"\n    {w}" for w in pg.system_waits) if pg.system_waits else " (never seen)")
          + (f"; sampling stopped early: {pg.error}" if pg.error else ""), flush=True)
    return product


def run(args: argparse.Namespace, workdir: Path, children: Children) -> int:
    from sqlalchemy import text

    from webapp import create_app
    from webapp.extensions import db
    from webapp.infra import provider_slots
    from webapp.infra.local_services import start_redis
    from webapp.jobs import PERIODIC, QUEUES
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
          f"cap {args.cap} calls per provider, {args.workers} workers ({args.worker_mode})"
          + ("; sweep only" if args.sweep_only else "") + f"; load average {load()}", flush=True)
    with app.app_context():
        db.drop_all()
        db.create_all()
        due = datetime.now(UTC).replace(second=0, microsecond=0)
        started = time.monotonic()
        n = seed(args.automations, args.due, args.per_resident, due)
        print(f"seeded {args.automations} automations ({n} due {due:%H:%M} UTC) for "
              f"{-(-args.automations // args.per_resident)} residents in {time.monotonic() - started:.1f} s",
              flush=True)
        env, conn = dict(os.environ), probes.counting_redis(redis.url)
        start_workers(args, env, workdir, children, conn)
        before = role_usage(children)
        print(f"{args.workers} workers ready: {before['workers'][0]:.0f} processes, "
              f"PSS {before['workers'][2]:.0f} MiB", flush=True)
        pg = None
        if not sqlite:
            pg = probes.PostgresSampler(db.engine.url.set(drivername="postgresql").render_as_string(False))
            children.handles.append(pg)
            # A backend flushes its statistics up to 10 s after going idle, or as it exits: the
            # seeding's session is closed so that none of its transactions lands in the run's.
            db.session.remove()
            db.engine.dispose()
            pg.wait_until_alone()
            pg.bench_pids.add(db.session.execute(text("SELECT pg_backend_pid()")).scalar())
            db.session.rollback()
        slots = probes.SlotSampler(conn, {p: f"{provider_slots.KEY_PREFIX}:{p}" for p in PROVIDERS})
        children.handles.append(slots)
        bench_sql = SqlCounter(db.engine)
        sandbox.configure(latency=args.latency)

        # From here to the end every figure covers the same interval.
        busy_before, ours_before = machine_busy(), time.process_time() + sum(u[1] for u in before.values())
        workers_before = probes.read_worker_counters(workdir)
        redis_before = probes.command_stats(conn)
        pg_before = pg.counters() if pg else None
        sql_before = (bench_sql.statements, bench_sql.transactions)
        if pg:
            pg.mark_start()
        if not args.sweep_only:  # no purchase is made then
            slots.start()
        seen = watch(n, start_sweep(args.sweep, env, workdir, children, conn), args.timeout, conn, slots,
                     args.sweep_only)
        final, elapsed = seen["final"], seen["elapsed"]
        drained = drain(conn, [PERIODIC] if args.sweep_only else list(QUEUES))
        slots.stop()
        busy, usage = machine_busy() - busy_before, role_usage(children)
        redis_after = probes.command_stats(conn)
        counters = probes.read_worker_counters(workdir)
        counters = {k: v - workers_before.get(k, 0) for k, v in counters.items()}
        sql_bench = (bench_sql.statements - sql_before[0], bench_sql.transactions - sql_before[1])
        if pg:
            pg.mark_end()
            children.stop("workers")  # their sessions end, so every statistic is flushed; ours too:
            db.session.remove()
            db.engine.dispose()
            pg.wait_until_alone()
            pg_after = pg.counters()
        measured = elapsed + drained
        ours = time.process_time() + sum(u[1] for u in usage.values()) + seen["sweep_cpu"] - ours_before
        what, count = ("due automation", n) if args.sweep_only else ("payment", max(final, 1))

        print(f"  machine: {os.cpu_count()} CPUs, {busy:.0f} CPU-s busy during the {measured:.1f} s measured "
              f"({elapsed:.1f} s run + {drained:.1f} s until the queues drained), {ours:.0f} of them ours, "
              f"{max(0.0, busy - ours):.0f} other processes'; load average {os.getloadavg()[0]:.1f} "
              f"(1/5/15 min {load()})", flush=True)
        for name, (procs, cpu, pss) in usage.items():
            print(f"  {name}: {procs:.0f} processes, {cpu - before[name][1]:.1f} s CPU during the run, "
                  f"PSS {pss:.0f} MiB", flush=True)
        workers_cpu = usage["workers"][1] - before["workers"][1]
        print(f"  worker CPU: {ms(workers_cpu, count)} per {what} (every worker process and its forks)", flush=True)
        jobs = probes.per_job(counters)
        sweep_cpu = seen["sweep_cpu"] if args.sweep == "cli" else jobs.get("run_sweep", {}).get("cpu", 0.0)
        if args.sweep == "job" and args.worker_mode == "flask":
            print(f"  sweep (job): finished at {seen['sweep_s'] or 0:.1f} s (its CPU is in the workers'; "
                  f"`flask worker`s do not charge it to the job)", flush=True)
        else:
            print(f"  sweep ({args.sweep}): finished at {seen['sweep_s'] or 0:.1f} s, {sweep_cpu:.2f} s CPU, "
                  f"{ms(sweep_cpu, n)} per due automation"
                  + (" (its process's whole CPU, the app's start included)" if args.sweep == "cli"
                     else " (the job's process CPU, charged by the worker)"), flush=True)
        if counters.get("tx_count"):
            print(f"  SQLite write transactions of the workers: {counters['tx_count']:.0f}; their write lock took "
                  f"{1000 * counters['tx_wait'] / counters['tx_count']:.1f} ms on average to get (BEGIN IMMEDIATE "
                  f"or first write); they held it {1000 * counters['tx_hold'] / counters['tx_count']:.1f} ms on "
                  f"average, {counters['tx_hold']:.1f} s in all ({counters['tx_hold'] / elapsed:.0%} of the run)",
                  flush=True)
        report_sql(counters, count, what)
        if counters:
            outside = workers_cpu - sum(c.get("cpu", 0) for job, c in jobs.items() if job != "outside jobs")
            print(f"    outside jobs (RQ between jobs, the pool's parent): {outside:.1f} s CPU", flush=True)
        for statement, executions, seconds in probes.top_statements(workdir, args.top_sql):
            print(f"    {seconds:6.2f} s in {executions:6d} x {statement[:300]}", flush=True)
        if args.profile:
            probes.print_profile(workdir, args.profile)
        commands, own, per_command = probes.command_delta(redis_before, redis_after)
        print(f"  Redis: {(commands - own) / count:.1f} commands per {what} ({commands - own} in all, inside Lua "
              f"scripts included; the bench's {own} taken out); most called: "
              + ", ".join(f"{name} {calls}" for name, calls in per_command.most_common(6)), flush=True)
        db_cpu = report_postgres(pg, pg_before, pg_after, sql_bench, count, what) if pg else 0.0
        if not args.sweep_only:
            cap_line = ", ".join(f"{p} {slots.peak[p]}/{args.cap} (mean {slots.mean_busy(p):.1f} while busy)"
                                 for p in PROVIDERS)
            print(f"  provider slots in use ({slots.samples} samples every 50 ms): peak {cap_line}"
                  + (f"; sampling stopped early: {slots.error}" if slots.error else ""), flush=True)
        found = results(funded_per_resident(args.per_resident))
        print(f"  provider calls {found['calls']}; emails {found['emails']}, jobs still queued {seen['queued']}; "
              f"wallets off their expected balance: {found['wrong_wallets']}; ledger invariants: "
              f"{'ok' if not found['invariants'] else found['invariants']}", flush=True)
    product_cpu = workers_cpu + (usage["redis"][1] - before["redis"][1]) + db_cpu
    ok = not found["double"] and not found["wrong_wallets"] and not found["invariants"]
    if args.sweep_only:
        print(f"sweep only: {n} due of {args.automations} automations swept in {seen['sweep_s'] or 0:.1f} s, "
              f"{found['payments']} payments created; sweep CPU {ms(sweep_cpu, n)} per due automation; "
              f"cpu/due automation {ms(product_cpu, n)}", flush=True)
        return 0 if ok and seen["sweep_s"] is not None and found["payments"] == n else 1
    serial = final * (found["mean_s"] or 1.0)
    limit = n * args.latency / (len(PROVIDERS) * args.cap)
    print(f"throughput: {final} payments in {elapsed:.1f} s ({final / elapsed:.1f}/s); serial estimate "
          f"{serial:.0f} s; speedup {serial / elapsed:.1f}; double debits {found['double']}; "
          f"limit {limit:.1f} s; ratio {elapsed / limit:.2f}; cpu/payment {ms(product_cpu, count)}", flush=True)
    return 0 if ok and final == n else 1


def worker_pool(count: int, queues: list[str], stats_dir: str, statement_times: bool, profile: bool) -> int:
    """Build the app once, instrument its engine, then fork ``count`` SimpleWorkers that share it
    (no fork per job); each writes its counters to ``stats_dir`` after every job."""
    from redis import Redis
    from rq.worker_pool import WorkerPool

    import webapp.services.notify.jobs  # noqa: F401  (imported before the fork, not in every child)
    import webapp.services.payments.jobs  # noqa: F401
    import workers.automation_jobs  # noqa: F401
    from webapp import create_app, jobs

    app = create_app()
    jobs.use_app(app)
    redis = Redis.from_url(app.config["REDIS_URL"])
    probes.CountingWorker.counters = counters = probes.WorkerCounters(stats_dir, statement_times, profile)
    with app.app_context():
        from webapp.extensions import db

        counters.install(db.engine, sqlite=db.engine.dialect.name == "sqlite")
    # As `flask worker` does before it forks (webapp/cli.py): the app's objects stay shared with
    # the children instead of being copied when the collector first touches them.
    gc.collect()
    gc.freeze()
    pool = WorkerPool(queues, connection=redis, num_workers=count, worker_class=probes.CountingWorker)
    pool.start(burst=False, logging_level="WARNING")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker_pool:
        return worker_pool(args.worker_pool, args.pool_queues.split(","), args.stats_dir, bool(args.top_sql),
                           bool(args.profile))

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
