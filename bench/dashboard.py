"""Benchmark: the resident dashboard against a bare Flask hello-world, both under gunicorn.

Seeds a fresh SQLite file with one resident, 20 utility accounts and 1,000 payments, serves the
app and a hello-world app with the same gunicorn settings (2 sync workers), loads each with the
same ``wrk`` settings (or a small threaded Python load generator when ``wrk`` is missing), and
prints as its last line:

    dashboard: <req/s> req/s, p99 <ms> ms; hello: <req/s> req/s; ratio <dashboard/hello>

The dashboard is served from the page cache whenever the resident's data has not changed for
``PAGE_CACHE_SETTLE_SECONDS`` (see ``webapp/services/page_cache.py``), so the benchmark waits that
long after signing in before it measures; ``--no-page-cache`` measures every view rendered afresh.

Run with ``python bench/dashboard.py`` (``--duration``/``--connections`` to change the load).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
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
    """Start gunicorn with the settings both apps share; returns the process and its base URL."""
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


def cpu_seconds(process: subprocess.Popen) -> float | None:
    """CPU time used so far by the gunicorn master's workers (Linux /proc), for a per-request cost
    that noisy neighbours on the machine do not distort as much as the request rate."""
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        ticks = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def login(base_url: str, email: str, password: str) -> str:
    """Sign in like a browser and return the Cookie header that opens the dashboard."""
    session = requests.Session()
    page = session.get(f"{base_url}/auth/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    response = session.post(f"{base_url}/auth/login", data={"email": email, "password": password,
                                                             "csrf_token": token}, timeout=10)
    response.raise_for_status()
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    check = requests.get(f"{base_url}/", headers={"Cookie": cookie}, allow_redirects=False, timeout=10)
    if check.status_code != 200 or 'id="spend-chart"' not in check.text:
        raise SystemExit(f"the dashboard did not open with the session cookie (HTTP {check.status_code})")
    return cookie


# --- load --------------------------------------------------------------------------------------

def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, cookie: str | None, duration: int, connections: int) -> tuple[float, float]:
    """Requests per second and p99 latency in ms from ``wrk --latency``; refuses error responses."""
    argv = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw failed requests:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", output)
    return rps, _ms(*p99.groups())


def run_python(url: str, cookie: str | None, duration: int, connections: int) -> tuple[float, float]:
    """The same measurement without wrk: one thread and one keep-alive session per connection."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker():
        session = requests.Session()
        headers = {"Cookie": cookie} if cookie else {}
        mine = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = session.get(url, headers=headers, allow_redirects=False, timeout=30)
            mine.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures.append(response.status_code)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    latencies.sort()
    return len(latencies) / (time.monotonic() - started), latencies[int(len(latencies) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per app (default 15)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the two apps this many times so a busy machine slows both alike")
    parser.add_argument("--no-page-cache", action="store_true",
                        help="render the dashboard afresh on every view (PAGE_CACHE_SECONDS=0)")
    args = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_python
    tool = "wrk" if load is run_wrk else "a threaded Python client"
    slice_seconds = max(1, args.duration // args.rounds)

    workdir = Path(tempfile.mkdtemp(prefix="autopay-bench-"))
    redis = start_redis(None)
    processes: list[subprocess.Popen] = []
    try:
        database = f"sqlite:///{workdir / 'bench.db'}"
        config = {"SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": redis.url, "RATELIMIT_STORAGE_URI": redis.url}
        email, password = seed(config)
        print(f"seeded 1 resident, {ACCOUNTS} accounts, {PAYMENTS} payments; load with {tool}, "
              f"{args.connections} connections, {args.rounds} x {slice_seconds} s per app, "
              f"gunicorn {WORKERS} sync workers, page cache {'off' if args.no_page_cache else 'on'}")
        env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis.url, "PYTHONPATH": str(ROOT)}
        if args.no_page_cache:
            env["PAGE_CACHE_SECONDS"] = "0"
        (workdir / "hello.py").write_text(HELLO_APP)
        app_process, app_url = gunicorn("wsgi:app", ROOT, env)
        processes.append(app_process)
        hello_process, hello_url = gunicorn("hello:app", workdir, env)
        processes.append(hello_process)

        cookie = login(app_url, email, password)
        if not args.no_page_cache:
            # Signing in stamps the resident's row; the page is cached once the data has settled.
            settle = float(os.environ.get("PAGE_CACHE_SETTLE_SECONDS", 10)) + 1
            print(f"waiting {settle:.0f} s for the resident's data to settle (PAGE_CACHE_SETTLE_SECONDS)")
            time.sleep(settle)
        targets = {"dashboard": (f"{app_url}/", cookie, app_process), "hello": (f"{hello_url}/", None, hello_process)}
        for url, header, _ in targets.values():
            load(url, header, 2, args.connections)  # warm up workers, connections and template caches
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        cpu: dict[str, float] = {name: 0.0 for name in targets}
        for round_no in range(1, args.rounds + 1):
            for name, (url, header, process) in targets.items():
                before = cpu_seconds(process)
                results[name].append(load(url, header, slice_seconds, args.connections))
                after = cpu_seconds(process)
                rps, p99 = results[name][-1]
                if before is not None and after is not None:
                    cpu[name] += (after - before) / (rps * slice_seconds)
                print(f"round {round_no} {name}: {rps:.0f} req/s, p99 {p99:.1f} ms")
        if all(cpu.values()):
            per_request = {name: 1000 * total / args.rounds for name, total in cpu.items()}
            print(f"server CPU per request: dashboard {per_request['dashboard']:.2f} ms, "
                  f"hello {per_request['hello']:.2f} ms (ratio {per_request['hello'] / per_request['dashboard']:.2f})")
    finally:
        for process in processes:
            stop(process)
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    # Equal-length rounds: the mean rate is total requests over total time; p99 is the worst round's.
    dash_rps = sum(r for r, _ in results["dashboard"]) / args.rounds
    dash_p99 = max(p for _, p in results["dashboard"])
    hello_rps = sum(r for r, _ in results["hello"]) / args.rounds
    print(f"dashboard: {dash_rps:.0f} req/s, p99 {dash_p99:.1f} ms; hello: {hello_rps:.0f} req/s; "
          f"ratio {dash_rps / hello_rps:.2f}")


if __name__ == "__main__":
    main()
