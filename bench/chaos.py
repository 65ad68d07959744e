"""Benchmark: the whole product under faults (figures printed, not a timed test).

Runs the chaos harness (``tests/chaos.py``): a private Redis, the sandbox with ``--faults`` of the
purchase and status calls faulted (timeouts with and without processing, dropped connections, 503,
429, "not processed", pending), gunicorn, ``--workers`` `flask worker`s and one `flask cron`, each
restarted a second after it ends as the README's systemd units do. Residents send ``--payments`` pay
forms over 30 s while a worker (with its work horse) or a work horse alone is killed -9 every 4 s
until 48 s, the cron process is killed -9 at 14 s, Redis is killed at 22 s and started again (empty)
3 s later, and Redis is flushed at 38 s. The database is a fresh SQLite file, or
``BENCH_DATABASE_URL`` (e.g. PostgreSQL; its tables are DROPPED and recreated).

Prints the events as they happen, then: time to final (p50, p95, max) over every payment, from its
creation to its final state, and over those the provider never made wait along the requery backoff
(an answer of "pending" is asked about again 1, 5, 15 minutes on, as real providers need); for each
Redis event, the seconds from Redis's return until every payment it had left waiting (``created``,
its job lost) was running again; worker deaths (a worker that ended without being killed); pay-form
answers and errors (5xx or no answer); and the money columns: double debits, purchases the sandbox
processed twice, wallets off, ledger invariants. Also the product's CPU (web, workers, cron) per
payment and the machine's load. Its last line:

    chaos: <n> payments, <final> final; p50 <s> s, p95 <s> s, max <s> s; lost jobs running again <s> s;
    worker deaths <k>; pay-form errors <k>; double debits <k>; processed twice <k>; wallets off <k>; ledger <ok|...>

Targets: p50 <= 60 s; lost jobs running again <= 30 s after Redis returns; 0 worker deaths; 0
pay-form errors; every money column 0.

Run with ``python bench/chaos.py`` (``--help`` for the knobs).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import chaos  # noqa: E402  (after the path is set)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--faults", type=float, default=0.3, help="share of provider calls faulted (0..1)")
    parser.add_argument("--latency", type=float, default=0.2, help="sandbox seconds per provider call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", action="store_true", help="keep the directory with the processes' logs")
    args = parser.parse_args(argv)
    plan = replace(chaos.Plan(), payments=args.payments, residents=args.residents, workers=args.workers,
                   fault_rate=args.faults, latency=args.latency, seed=args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="autopay-chaos-"))
    db_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'chaos.db'}"
    print(f"database {'SQLite' if db_url.startswith('sqlite') else 'PostgreSQL'}; {plan.payments} payments from "
          f"{plan.residents} residents, {plan.workers} workers, faults {plan.fault_rate:.0%}, latency "
          f"{plan.latency} s; load average {load()}", flush=True)
    outcome = chaos.run(plan, db_url, workdir, progress=lambda line: print(line, flush=True))
    if args.keep_logs:
        print(f"logs kept in {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)

    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    recovered = [v for v in outcome.recovery.values()]
    worst = None if not recovered or None in recovered else max(recovered)
    print(f"load average after: {load()}")
    print(f"statuses: {outcome.statuses}")
    print(f"time to final: p50 {seconds(outcome.percentile(50))} s, p95 {seconds(outcome.percentile(95))} s, "
          f"max {seconds(max(outcome.time_to_final, default=None))} s")
    unwaited = outcome.time_to_final_unwaited
    print(f"  of which {len(unwaited)} never waited on the provider's requery backoff (no 'pending' or "
          f"'cannot tell yet' answer): p50 {seconds(outcome.percentile(50, unwaited))} s, "
          f"p95 {seconds(outcome.percentile(95, unwaited))} s, max {seconds(max(unwaited, default=None))} s")
    print("lost work running again after Redis returned: "
          + (", ".join(f"{name} {seconds(value)} s" for name, value in outcome.recovery.items()) or "no Redis event"))
    print(f"deaths: workers {len(outcome.worker_deaths)} {outcome.worker_deaths}; others {outcome.other_deaths}")
    print(f"pay form answers: {dict(outcome.pay_form)}; errors {outcome.pay_form_errors}")
    print(f"product CPU (web, workers, cron): {outcome.cpu_seconds:.1f} s, "
          f"{1000 * outcome.cpu_seconds / max(outcome.payments, 1):.1f} ms per payment; run {outcome.elapsed:.0f} s")
    ledger = "ok" if not outcome.ledger_problems else "; ".join(outcome.ledger_problems)
    print(f"chaos: {outcome.payments} payments, {outcome.final} final; p50 {seconds(outcome.percentile(50))} s, "
          f"p95 {seconds(outcome.percentile(95))} s, max {seconds(max(outcome.time_to_final, default=None))} s; "
          f"lost jobs running again {seconds(worst)} s; worker deaths {len(outcome.worker_deaths)}; "
          f"pay-form errors {outcome.pay_form_errors}; double debits {outcome.double_debits}; "
          f"processed twice {outcome.processed_twice}; wallets off {outcome.wallets_off}; ledger {ledger}")
    return 0 if outcome.money_ok else 1


if __name__ == "__main__":
    sys.exit(main())
