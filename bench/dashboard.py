"""Benchmark: the resident dashboard against a bare Flask hello-world, both under gunicorn, loaded by wrk.

Seeds a fresh SQLite file with one resident, 20 utility accounts and 1,000 payments, serves the
app and a hello-world app with the same gunicorn settings (2 sync workers), and loads each with
the same ``wrk`` settings in alternating rounds, so a busy machine slows both alike. Around each
round it reads the CPU time of that gunicorn's whole process group from /proc: CPU per request is
what the server spends on a view, which other work on the machine disturbs far less than the rate.
The dashboard is rendered afresh on every view (there is no page cache). It prints each round,
the load average, and as its last line (one line; wrapped here):

    dashboard: <req/s> req/s, p99 <ms> ms, cpu/request <ms> ms;
    hello: <req/s> req/s, cpu/request <ms> ms; ratio <dashboard/hello req/s>

The aim: the dashboard's CPU per request at most 4x the bare app's (ratio 0.25 or more) and p99 at
most 25 ms at 16 connections.

Needs ``wrk`` (Debian/Ubuntu: ``sudo apt-get install wrk``). ``--profile N`` profiles N dashboard
views in-process with cProfile instead (no wrk, no gunicorn) and prints where the time goes;
``--path /notifications/`` profiles another signed-in page (the floor every page pays).

Run with ``python bench/dashboard.py`` (``--duration``/``--connections``/``--rounds`` to change the load).
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.infra.local_services import free_port, start_redis, wait_for_port  # noqa: E402

WORKERS = 2
ACCOUNTS = 20
PAYMENTS = 1_000
HELLO_APP = '''from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
'''
TYPES = [  # (provider_type, name, provider_code, item_code, meter_type)
    ("electricity", "Ikeja Electric Prepaid", "ikeja-electric", "prepaid", "prepaid"),
    ("electricity", "Eko Electric Postpaid", "eko-electric", "postpaid", "postpaid"),
    ("water", "Lagos Water", "lagos-water", "water", None),
    ("internet", "Spectranet 20GB", "spectranet", "spectranet-20gb", None),
    ("cable_tv", "DStv Compact", "dstv", "dstv-compact", None),
]
STATUSES = ["succeeded"] * 16 + ["failed", "failed", "unknown", "cancelled"]
# A browser sends one User-Agent for its whole session. Flask-Login's session protection marks a
# session whose address or agent changed as not fresh, rewriting the cookie; wrk would send none,
# and since it never stores the new cookie, every view would pay for that rewrite.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) autopay-bench"


# --- seeding -----------------------------------------------------------------------------------

def seed(config: dict) -> tuple[str, str]:
    """Create the schema and the data; returns the resident's email and password."""
    from sqlalchemy import insert

    from tests.factories_payments import make_catalogue_entry, make_utility_account
    from webapp import create_app
    from webapp.cli import DEMO_USERS, seed_demo
    from webapp.extensions import db
    from webapp.models import Payment, PaymentEvent, User
    from webapp.services import ledger

    app = create_app(config)
    with app.app_context():
        db.create_all()
        estate, _ = seed_demo()
        email, password = DEMO_USERS[1][0], DEMO_USERS[1][1]
        user = db.session.query(User).filter_by(email=email).one()
        entries = [make_catalogue_entry(estate, name=name, provider_type=kind, provider_code=code, item_code=item,
                                        meter_type=meter, label_name=None)
                   for kind, name, code, item, meter in TYPES]
        accounts = [make_utility_account(user, entries[n % len(entries)], f"45{n:011d}", nickname=f"Account {n + 1}")
                    for n in range(ACCOUNTS)]
        ledger.credit_funding(user.id, 250_000_00, "paystack", "BENCHFUND1")
        db.session.commit()

        start = datetime.now(UTC) - timedelta(days=400)
        payments = []
        for n in range(PAYMENTS):
            account = accounts[n * 7 % ACCOUNTS]
            entry = entries[(n * 7 % ACCOUNTS) % len(entries)]
            status = STATUSES[n % len(STATUSES)]
            when = start + timedelta(minutes=n * 575)  # spread over ~400 days
            payments.append({
                "reference": f"BENCH{n:08d}", "user_id": user.id, "estate_id": estate.id, "kind": "utility",
                "utility_account_id": account.id, "provider_id": entry.id, "api_provider": entry.api_provider,
                "utility_type": entry.provider_type, "amount_kobo": 1_000_00 + (n % 37) * 250_00,
                "fee_kobo": entry.fee_kobo, "status": status,
                "token": f"{n:020d}" if status == "succeeded" and entry.provider_type == "electricity" else None,
                "units": "32.5 kWh" if status == "succeeded" and entry.provider_type == "electricity" else None,
                "status_reason": "The utility company refused this purchase." if status == "failed" else None,
                "source": "one_time", "details": {}, "created_at": when, "updated_at": when,
                "completed_at": when if status in ("succeeded", "failed", "cancelled") else None,
            })
        db.session.execute(insert(Payment), payments)
        db.session.commit()
        ids = [row.id for row in db.session.query(Payment.id).order_by(Payment.id)]
        db.session.execute(insert(PaymentEvent), [
            {"payment_id": pid, "from_status": from_status, "to_status": to_status, "reason": "", "actor": "bench",
             "created_at": start}
            for pid in ids for from_status, to_status in ((None, "created"), ("created", "debited"),
                                                           ("debited", "submitted"))
        ])
        db.session.commit()
        db.engine.dispose()
    return email, password


# --- serving -----------------------------------------------------------------------------------

def gunicorn(app_path: str, chdir: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """Start gunicorn with the settings both apps share; returns the process and its base URL.

    It leads a process group of its own (``start_new_session``), so its CPU can be read as a group.
    """
    port = free_port()
    binary = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    process = subprocess.Popen(
        [binary, "--workers", str(WORKERS), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(chdir), "--log-level", "warning", app_path],
        env=env, start_new_session=True,
    )
    wait_for_port(port, timeout=30)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def group_cpu_seconds(group: int) -> float:
    """User + system CPU time of every live process in process group ``group`` (Linux /proc)."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the ")" that ends the command name: state, ppid, pgrp, ... utime (12th), stime.
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def login(base_url: str, email: str, password: str) -> str:
    """Sign in like a browser and return the Cookie header that opens the dashboard."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    page = session.get(f"{base_url}/auth/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    response = session.post(f"{base_url}/auth/login", data={"email": email, "password": password,
                                                             "csrf_token": token}, timeout=10)
    response.raise_for_status()
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    check = requests.get(f"{base_url}/", headers={"Cookie": cookie, "User-Agent": USER_AGENT},
                         allow_redirects=False, timeout=10)
    if check.status_code != 200 or 'id="spend-chart"' not in check.text:
        raise SystemExit(f"the dashboard did not open with the session cookie (HTTP {check.status_code})")
    if "Set-Cookie" in check.headers:  # then every view would pay for re-signing the cookie
        raise SystemExit("the dashboard rewrote the session cookie of a settled session")
    return cookie


# --- load --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Round:
    requests: int
    seconds: float
    p99_ms: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, cookie: str | None, seconds: int, connections: int, server: subprocess.Popen) -> Round:
    """One ``wrk --latency`` run, with the server's CPU time around it; refuses error responses."""
    argv = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}", "-H", f"User-Agent: {USER_AGENT}"]
    before = group_cpu_seconds(server.pid)
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    cpu = group_cpu_seconds(server.pid) - before
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw failed requests:\n{output}")
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", output)
    return Round(int(done.group(1)), _ms(done.group(2), done.group(3)) / 1000, _ms(*p99.groups()), cpu)


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed; this benchmark needs it as its load generator.\n"
                 "Install it with `sudo apt-get install wrk` (Debian/Ubuntu) or build it from "
                 "https://github.com/wg/wrk, then run again.")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1, 5, 15 min; {os.cpu_count()} CPUs)"


# --- profiling ---------------------------------------------------------------------------------

def profile(config: dict, email: str, password: str, views: int, path: str = "/") -> None:
    """Render ``path`` (by default the dashboard) ``views`` times under cProfile; print the heaviest calls."""
    from webapp import create_app

    app = create_app(config)
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})
    for _ in range(50):  # warm up: templates compiled, statements cached
        assert client.get(path).status_code == 200
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(views):
        client.get(path)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per app (default 15)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the two apps this many times so a busy machine slows both alike")
    parser.add_argument("--profile", type=int, metavar="VIEWS", default=0,
                        help="profile this many dashboard views in-process instead of loading gunicorn")
    parser.add_argument("--path", default="/",
                        help="the signed-in page to load or profile instead of the dashboard (e.g. /notifications/ "
                             "for the floor every signed-in page pays)")
    args = parser.parse_args()
    if not args.profile:
        require_wrk()
    slice_seconds = max(1, args.duration // args.rounds)

    workdir = Path(tempfile.mkdtemp(prefix="autopay-bench-"))
    redis = start_redis(None)
    processes: list[subprocess.Popen] = []
    try:
        database = f"sqlite:///{workdir / 'bench.db'}"
        config = {"SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": redis.url, "RATELIMIT_STORAGE_URI": redis.url}
        email, password = seed(config)
        if args.profile:
            profile(config, email, password, args.profile, args.path)
            return
        print(f"seeded 1 resident, {ACCOUNTS} accounts, {PAYMENTS} payments; wrk with {args.connections} "
              f"connections, {args.rounds} x {slice_seconds} s per app, gunicorn {WORKERS} sync workers")
        print(f"load average before: {load_average()}")
        env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis.url, "PYTHONPATH": str(ROOT)}
        (workdir / "hello.py").write_text(HELLO_APP)
        app_process, app_url = gunicorn("wsgi:app", ROOT, env)
        processes.append(app_process)
        hello_process, hello_url = gunicorn("hello:app", workdir, env)
        processes.append(hello_process)

        label = "dashboard" if args.path == "/" else f"page {args.path}"
        targets = {"dashboard": (f"{app_url}{args.path}", app_process), "hello": (f"{hello_url}/", hello_process)}
        cookie = login(app_url, email, password)
        for url, process in targets.values():  # warm up workers, connections, templates, statements
            run_wrk(url, cookie if process is app_process else None, 2, args.connections, process)
        rounds: dict[str, list[Round]] = {name: [] for name in targets}
        for round_no in range(1, args.rounds + 1):
            for name, (url, process) in targets.items():
                # A fresh sign-in each round: a session older than a minute rewrites its cookie on every view.
                header = login(app_url, email, password) if name == "dashboard" else None
                result = run_wrk(url, header, slice_seconds, args.connections, process)
                rounds[name].append(result)
                shown = label if name == "dashboard" else name
                print(f"round {round_no} {shown}: {result.rate:.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                      f"cpu/request {1000 * result.cpu_seconds / result.requests:.2f} ms")
        print(f"load average after: {load_average()}")
    finally:
        for process in processes:
            stop(process)
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def summary(name: str) -> tuple[float, float, float]:
        """Mean rate (all requests over all time), the worst round's p99, CPU ms per request."""
        done = rounds[name]
        requests_done = sum(r.requests for r in done)
        return (requests_done / sum(r.seconds for r in done), max(r.p99_ms for r in done),
                1000 * sum(r.cpu_seconds for r in done) / requests_done)

    dash_rps, dash_p99, dash_cpu = summary("dashboard")
    hello_rps, _, hello_cpu = summary("hello")
    print(f"server CPU per request: {label} {dash_cpu:.2f} ms, {dash_cpu / hello_cpu:.1f} x hello's "
          f"{hello_cpu:.2f} ms")
    print(f"{label}: {dash_rps:.0f} req/s, p99 {dash_p99:.1f} ms, cpu/request {dash_cpu:.2f} ms; "
          f"hello: {hello_rps:.0f} req/s, cpu/request {hello_cpu:.2f} ms; ratio {dash_rps / hello_rps:.2f}")


if __name__ == "__main__":
    main()
