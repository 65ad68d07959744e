"""The whole product under faults: the harness of the chaos test and of ``bench/chaos.py``.

It starts, each in a process group of its own: a private redis-server (so it can be stopped,
started again and flushed without touching anyone else's; it keeps nothing on disk, as the
product's own Redis need not), the provider sandbox with faults, gunicorn serving the app,
``plan.workers`` `flask worker`s and one `flask cron`. A process that ends is started again one
second later, as the README's systemd units do (``Restart=always``, ``RestartSec=1``); one that ends
without the harness having killed it counts as a death.

Residents sign in, then send the pay form (``POST /pay/confirm``) at an even pace while the plan's
events happen: kill -9 of a worker with its work horse or of the horse alone, every
``plan.kill_every`` seconds; kill -9 of the cron process; Redis stopped (kill -9) and started again
``plan.redis_down_for`` seconds later, empty; a FLUSHALL. Then it waits until every payment is final
(or ``plan.deadline``) and reads what happened (``Outcome``): each payment's time from its creation
to its final state, how long after Redis came back the payments whose jobs it lost were running
again (each had left ``created``), the deaths, every pay-form answer, and the money: double debits,
purchases the sandbox processed twice, wallets that are not their funding less their payments, and
the ledger's invariants.
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.payments.worker_process import descendants, kill_tree
from webapp.infra.local_services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
FINAL = ("succeeded", "failed", "cancelled", "refunded")
AMOUNT_KOBO = 2_000_00
PASSWORD = "chaos-password-1"
FRAUD_OFF = ("FRAUD_ACCOUNT_PURCHASES_PER_HOUR", "FRAUD_ACCOUNT_PURCHASES_PER_DAY",
             "FRAUD_RESIDENT_PURCHASES_PER_HOUR", "FRAUD_RESIDENT_PURCHASES_PER_DAY", "FRAUD_AMOUNT_FACTOR",
             "FRAUD_SHARED_NUMBER_RESIDENTS")
RESTART_AFTER = 1.0  # systemd's RestartSec in the README's units


@dataclass(frozen=True)
class Plan:
    payments: int = 200
    residents: int = 20
    workers: int = 8
    fault_rate: float = 0.3
    latency: float = 0.2  # seconds per provider call
    read_timeout: float = 4.0  # PROVIDER_READ_TIMEOUT; a sandbox "timeout" holds longer than this
    submit_over: float = 30.0  # the pay forms are sent evenly over this many seconds
    kill_every: float | None = 4.0
    kill_until: float = 48.0
    cron_kill_at: float | None = 14.0
    redis_stop_at: float | None = 22.0
    redis_down_for: float = 3.0
    flushall_at: float | None = 38.0
    deadline: float = 600.0  # seconds from the first pay form until the harness gives up
    seed: int = 7


@dataclass
class Outcome:
    plan: Plan
    statuses: dict[str, int]
    time_to_final: list[float]  # seconds, one per final payment
    # Of those, the payments no status check had to wait for along the requery backoff (the
    # provider never answered "pending" or "cannot tell yet" about them): what the product alone decides.
    time_to_final_unwaited: list[float]
    recovery: dict[str, float | None]  # Redis event -> seconds from its return until its lost work ran again
    worker_deaths: list[str]
    other_deaths: list[str]  # the cron process, the web server
    pay_form: Counter  # HTTP status (or "no answer") -> how many
    double_debits: int
    processed_twice: int
    wallets_off: int
    ledger_problems: list[str]
    timeline: list[tuple[float, str]]
    elapsed: float
    cpu_seconds: float  # the product's processes, workers and web and cron (their children included)

    @property
    def payments(self) -> int:
        return sum(self.statuses.values())

    @property
    def final(self) -> int:
        return sum(self.statuses.get(status, 0) for status in FINAL)

    @property
    def pay_form_errors(self) -> int:
        return sum(n for status, n in self.pay_form.items() if status == "no answer" or int(status) >= 500)

    def percentile(self, p: float, times: list[float] | None = None) -> float | None:
        times = self.time_to_final if times is None else times
        if not times:
            return None
        if len(times) == 1:
            return times[0]
        return statistics.quantiles(times, n=100, method="inclusive")[int(p) - 1]

    @property
    def money_ok(self) -> bool:
        return not (self.double_debits or self.processed_twice or self.wallets_off or self.ledger_problems)


# --- processes ---------------------------------------------------------------------------------

class Supervised:
    """One product process in its own process group, started again ``RESTART_AFTER`` s after it ends."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen | None = None
        self.killed_by_us = False
        self.restart_at: float | None = None
        self.cpu_of_ended = 0.0  # CPU of earlier incarnations (read from wait4)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.killed_by_us, self.restart_at = False, None

    def kill(self, horse_only: bool = False) -> str:
        """kill -9 the process with every descendant, or (``horse_only``) just its RQ work horse."""
        if self.process is None or self.process.poll() is not None:
            return f"{self.name} was not running"
        if horse_only:
            horses = descendants(self.process.pid)
            if horses:
                for pid in horses:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                return f"killed the work horse of {self.name}"
        self.killed_by_us = True
        kill_tree(self.process.pid)
        return f"killed {self.name}" + (" (no work horse at the time)" if horse_only else "")

    def check(self, now: float) -> str | None:
        """Reap an ended process and plan its restart; a death the harness did not cause is returned."""
        if self.process is None:
            return None
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return None
        if self.process.returncode is None:
            try:
                pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already by Popen.poll (its CPU is then not counted)
                pid, status, usage = self.process.pid, None, None
            if not pid:
                return None
            if status is not None:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_of_ended += usage.ru_utime + usage.ru_stime
            else:
                self.process.returncode = self.process.poll()
        self.restart_at = now + RESTART_AFTER
        if self.killed_by_us:
            return None
        return f"{self.name} ended by itself (exit {self.process.returncode})"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            kill_tree(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_tree(self.process.pid)
                self.process.wait(timeout=10)


class PrivateRedis:
    """A redis-server on a fixed port that can be killed and started again (empty: no persistence)."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("the chaos run needs redis-server on PATH (it stops and restarts it)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    def flushall(self) -> None:
        from redis import Redis

        Redis.from_url(self.url).flushall()


def _cpu_of_group(pid: int) -> float:
    """CPU seconds of the live processes in process group ``pid`` and of their reaped children."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pid:
                total += sum(int(x) for x in fields[11:15])
    return total / ticks


# --- seeding -----------------------------------------------------------------------------------

def _meter_number(resident: int, meter: int) -> str:
    # A plain-success sandbox number (the scripted test numbers are 13 digits of one repeated
    # figure); faults only ever touch numbers like these.
    return f"7{resident:06d}{meter:04d}"


def seed(plan: Plan, funded_kobo: int) -> list[tuple[str, list[int]]]:
    """The estate, its catalogue from both providers, and ``plan.residents`` residents with funded
    wallets and a validated prepaid meter on each provider; [(email, [utility account ids])]."""
    from flask import current_app

    from webapp.extensions import db
    from webapp.infra import crypto
    from webapp.models import Estate, User, UtilityAccount
    from webapp.providers import registry
    from webapp.services import catalogue, ledger

    estate = Estate(name="Chaos Estate", invite_code="CHAOS001")
    db.session.add(estate)
    db.session.commit()
    entries = []
    for api_provider in ("vtpass", "flutterwave"):
        catalogue.sync_from_provider(estate.id, registry.utility_service(api_provider, current_app.config))
        db.session.commit()
        entries.append(next(e for e in catalogue.active_for_estate(estate.id, "electricity")
                            if e.api_provider == api_provider and e.meter_type == "prepaid"))
    people = []
    for r in range(plan.residents):
        user = User(email=f"chaos{r}@chaos.test", full_name=f"Resident {r}", role="resident", estate_id=estate.id,
                    phone="+2348031234567")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.flush()
        meters = []
        for k, entry in enumerate(entries):
            number = _meter_number(r, k)
            meter = UtilityAccount(user_id=user.id, provider_id=entry.id, nickname=f"Meter {k + 1}",
                                   customer_number=number, number_hash=crypto.lookup_hash(number),
                                   number_last4=number[-4:], customer_name=f"Resident {r}", meter_type="prepaid")
            db.session.add(meter)
            meters.append(meter)
        ledger.credit_funding(user.id, funded_kobo, "paystack", f"CHAOSFUND{r}")
        db.session.commit()
        people.append((user.email, [meter.id for meter in meters]))
    return people


# --- the residents -----------------------------------------------------------------------------

class Residents:
    """Each resident's browser: signs in, then sends the pay form at its planned moments."""

    def __init__(self, base_url: str, people: list[tuple[str, list[int]]], plan: Plan) -> None:
        self.base_url, self.plan = base_url, plan
        self.answers: Counter = Counter()
        self.lock = threading.Lock()
        self.sessions = [self._sign_in(email, n) for n, (email, _) in enumerate(people)]
        # Payment i goes at i * submit_over / payments seconds, from resident i % residents,
        # alternating its meters (so both providers are bought from throughout).
        self.forms = [(i * plan.submit_over / plan.payments, i % len(people),
                       people[i % len(people)][1][(i // len(people)) % len(people[i % len(people)][1])])
                      for i in range(plan.payments)]

    def _sign_in(self, email: str, n: int) -> tuple[requests.Session, str]:
        session = requests.Session()
        # Each resident from an address of their own (the app trusts one proxy here), as in life:
        # the per-address limits on sign-in and on the pay form are per resident.
        session.headers["X-Forwarded-For"] = f"10.0.{n // 250}.{n % 250 + 1}"
        page = session.get(f"{self.base_url}/auth/login", timeout=30)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
        signed_in = session.post(f"{self.base_url}/auth/login", timeout=30, allow_redirects=False,
                                 data={"email": email, "password": PASSWORD, "csrf_token": token})
        if signed_in.status_code != 302:
            raise RuntimeError(f"{email} could not sign in (HTTP {signed_in.status_code})")
        form = session.get(f"{self.base_url}/pay/", timeout=30).text
        return session, re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)

    def run(self, started: float) -> None:
        """Send every form at its moment, several at once (a thread per resident)."""
        by_resident: dict[int, list[tuple[float, int]]] = {}
        for at, resident, account in self.forms:
            by_resident.setdefault(resident, []).append((at, account))
        threads = [threading.Thread(target=self._send_all, args=(started, n, forms), daemon=True)
                   for n, forms in by_resident.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _send_all(self, started: float, n: int, forms: list[tuple[float, int]]) -> None:
        session, token = self.sessions[n]
        for at, account in forms:
            time.sleep(max(0.0, started + at - time.monotonic()))
            try:
                answer = session.post(f"{self.base_url}/pay/confirm", timeout=30, allow_redirects=False,
                                      data={"account": account, "amount_kobo": AMOUNT_KOBO, "csrf_token": token,
                                            "submit_key": uuid.uuid4().hex})
                status = str(answer.status_code)
            except requests.RequestException:
                status = "no answer"
            with self.lock:
                self.answers[status] += 1


# --- the run -----------------------------------------------------------------------------------

def product_env(db_url: str, redis_url: str, provider_settings: dict, plan: Plan) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))}
    env.update(provider_settings)
    env.update({"DATABASE_URL": db_url, "REDIS_URL": redis_url, "APP_ENV": "development", "MAIL_SERVER": "",
                "FLASK_APP": "wsgi.py", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "TRUSTED_PROXIES": "1",
                "PROVIDER_READ_TIMEOUT": str(plan.read_timeout),
                # The sandbox's bill listing never lags (as under `make run`; production waits ten minutes).
                "FLUTTERWAVE_RECORD_LAG_SECONDS": "30"})
    env.update({name: "0" for name in FRAUD_OFF})
    return env


def _snapshot_created(statuses_by_id: dict[int, str]) -> set[int]:
    return {pid for pid, status in statuses_by_id.items() if status == "created"}


def _statuses() -> dict[int, str]:
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Payment

    rows = dict(db.session.execute(select(Payment.id, Payment.status)).all())
    db.session.rollback()
    return rows


def run(plan: Plan, db_url: str, workdir: Path | None = None, *, progress=print) -> Outcome:
    """One chaos run against a fresh schema in ``db_url`` (its tables are dropped and recreated)."""
    from webapp import create_app
    from webapp.extensions import db
    from webapp.sandbox.runner import start_sandbox

    own_workdir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="autopay-chaos-")) if workdir is None else workdir
    redis = PrivateRedis(workdir)
    redis.start()
    sandbox = start_sandbox(latency=0.0, duplicate_window=0.0, seed=plan.seed, timeout_hold=plan.read_timeout + 2)
    processes: list[Supervised] = []
    flask = str(Path(sys.executable).with_name("flask"))
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    try:
        env = product_env(db_url, redis.url, sandbox.provider_settings(), plan)
        app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis.url,
                          "RATELIMIT_STORAGE_URI": redis.url, **sandbox.provider_settings()})
        funded = (plan.payments // plan.residents + 2) * (AMOUNT_KOBO + 1_000_00)
        with app.app_context():
            db.drop_all()
            db.create_all()
            people = seed(plan, funded)
            db.session.remove()
            db.engine.dispose()

            port = free_port()
            web = Supervised("web", [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level",
                                     "warning", "wsgi:app"], env, workdir / "web.log")
            workers = [Supervised(f"worker-{i}", [flask, "worker", "--name", f"chaos-{i}-{uuid.uuid4().hex[:6]}"],
                                  env, workdir / "workers.log") for i in range(plan.workers)]
            cron = Supervised("cron", [flask, "cron"], env, workdir / "cron.log")
            processes = [web, *workers, cron]
            for process in processes:
                process.start()
            wait_for_port(port, timeout=60)
            residents = Residents(f"http://127.0.0.1:{port}", people, plan)
            sandbox.configure(latency=plan.latency, fault_rate=plan.fault_rate)
            progress(f"{len(people)} residents signed in; {plan.workers} workers, cron and web running")

            timeline: list[tuple[float, str]] = []
            deaths: list[str] = []
            recovery: dict[str, float | None] = {}
            watching: dict[str, tuple[float, set[int]]] = {}
            rng = random.Random(plan.seed)
            started = time.monotonic()
            cpu_before = sum(_cpu_of_group(p.process.pid) for p in processes)
            sender = threading.Thread(target=residents.run, args=(started,), daemon=True)
            sender.start()

            events: list[tuple[float, str]] = []
            if plan.kill_every:
                events += [(t, "kill") for t in _times(plan.kill_every, plan.kill_until)]
            for at, name in ((plan.cron_kill_at, "kill cron"), (plan.redis_stop_at, "stop redis"),
                             (plan.flushall_at, "flushall")):
                if at is not None:
                    events.append((at, name))
            events.sort()
            redis_back_at: float | None = None
            kills = 0

            def note(what: str) -> None:
                timeline.append((time.monotonic() - started, what))
                progress(f"[{time.monotonic() - started:6.1f} s] {what}")

            last_report = 0.0
            while True:
                now = time.monotonic()
                elapsed = now - started
                while events and events[0][0] <= elapsed:
                    _, event = events.pop(0)
                    if event == "kill":
                        note(rng.choice(workers).kill(horse_only=kills % 2 == 1))
                        kills += 1
                    elif event == "kill cron":
                        note(cron.kill())
                    elif event == "stop redis":
                        redis.kill()
                        note("Redis killed")
                        redis_back_at = now + plan.redis_down_for
                    elif event == "flushall":
                        redis.flushall()
                        note("Redis FLUSHALL")
                        watching["flushall"] = (elapsed, _snapshot_created(_statuses()))
                if redis_back_at is not None and now >= redis_back_at:
                    redis.start()
                    redis_back_at = None
                    note("Redis started again (empty)")
                    watching["restart"] = (time.monotonic() - started, _snapshot_created(_statuses()))
                for process in processes:
                    death = process.check(now)
                    if death:
                        deaths.append(death)
                        note(death)
                statuses = _statuses()
                for name, (since, waiting) in list(watching.items()):
                    if not any(statuses.get(pid) == "created" for pid in waiting):
                        recovery[name] = time.monotonic() - started - since
                        note(f"every payment waiting at the Redis {name} has left 'created' "
                             f"({len(waiting)} of them, {recovery[name]:.1f} s)")
                        del watching[name]
                counts = Counter(statuses.values())
                final = sum(counts[s] for s in FINAL)
                if elapsed - last_report >= 10:
                    last_report = elapsed
                    progress(f"[{elapsed:6.1f} s] {len(statuses)} payments, {final} final: {dict(counts)}")
                done = (not sender.is_alive() and not events and redis_back_at is None
                        and len(statuses) >= sum(residents.answers.values()) and final == len(statuses))
                if done or elapsed > plan.deadline:
                    break
                time.sleep(0.25)
            for name, (_, waiting) in watching.items():
                recovery[name] = None
                note(f"payments waiting at the Redis {name} still 'created' at the end: {len(waiting)}")
            elapsed = time.monotonic() - started
            cpu = sum(_cpu_of_group(p.process.pid) + p.cpu_of_ended for p in processes if p.process) - cpu_before
            outcome = _outcome(plan, sandbox, funded, recovery, deaths, residents.answers, timeline, elapsed, cpu)
    finally:
        for process in reversed(processes):
            process.stop()
        sandbox.stop()
        redis.kill()
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def _times(every: float, until: float) -> list[float]:
    times, t = [], every
    while t <= until:
        times.append(t)
        t += every
    return times


def _outcome(plan: Plan, sandbox, funded: int, recovery, deaths, answers, timeline, elapsed, cpu) -> Outcome:
    from sqlalchemy import func, or_, select

    from webapp.extensions import db
    from webapp.models import Account, JournalEntry, Payment, PaymentEvent, ProviderReference
    from webapp.services import ledger

    payments = db.session.execute(select(Payment.id, Payment.reference, Payment.status, Payment.created_at,
                                         Payment.completed_at)).all()
    statuses = Counter(status for _, _, status, _, _ in payments)
    # The payments the provider made wait: it answered "pending" (or "not found" just after the
    # purchase, or Flutterwave "cannot tell yet"), so the next check came on the requery backoff.
    waited = set(db.session.scalars(select(PaymentEvent.payment_id).where(or_(
        PaymentEvent.reason.like("Provider says %"), PaymentEvent.reason.like("Provider could not confirm yet%")))))
    final = [(payment_id, (done - made).total_seconds()) for payment_id, _, status, made, done in payments
             if status in FINAL and done is not None]
    time_to_final = sorted(seconds for _, seconds in final)
    unwaited = sorted(seconds for payment_id, seconds in final if payment_id not in waited)
    double = db.session.scalar(select(func.count()).select_from(
        select(Payment.id).join(JournalEntry, Payment.reference == JournalEntry.reference)
        .where(JournalEntry.idempotency_key == "payment:" + Payment.reference + ":debit")
        .group_by(Payment.id).having(func.count() > 1).subquery()))
    # Every reference a purchase went out under (a VTpass resend may carry a new request_id).
    reference_of = {payment_id: reference for payment_id, reference, _, _, _ in payments}
    owner = {reference: reference for reference in reference_of.values()}
    for payment_id, value in db.session.execute(select(ProviderReference.payment_id, ProviderReference.value)):
        owner.setdefault(value, reference_of[payment_id])
    processed = Counter(owner.get(bill["reference"], bill["reference"]) for bill in sandbox.transactions()["bills"]
                        if bill["status"] != "failed")
    spent = dict(db.session.execute(
        select(Payment.user_id, func.sum(Payment.amount_kobo + Payment.fee_kobo))
        .where(Payment.status.in_(("debited", "submitted", "unknown", "succeeded"))).group_by(Payment.user_id)
    ).all())
    wallets = db.session.execute(select(Account.user_id, Account.balance_kobo).where(Account.user_id.is_not(None)))
    wrong = sum(1 for user_id, balance in wallets if balance != funded - int(spent.get(user_id, 0)))
    problems = ledger.check_invariants()
    db.session.rollback()
    workers = [d for d in deaths if d.startswith("worker")]
    return Outcome(plan=plan, statuses=dict(statuses), time_to_final=time_to_final,
                   time_to_final_unwaited=unwaited, recovery=recovery,
                   worker_deaths=workers, other_deaths=[d for d in deaths if d not in workers], pay_form=answers,
                   double_debits=int(double or 0), processed_twice=sum(1 for n in processed.values() if n > 1),
                   wallets_off=wrong, ledger_problems=problems, timeline=timeline, elapsed=elapsed,
                   cpu_seconds=cpu)
