"""How long each sandbox test number takes to settle under `make run` (figures for the README's table).

Start the product first (``FRAUD_SHARED_NUMBER_RESIDENTS=0 make run``: this links the same test
numbers from several residents, which the fraud rules would otherwise hold for review), then run
this with the same ``DATABASE_URL`` and ``REDIS_URL``. As new residents of the demo estate (one per
provider) it links a prepaid meter at VTpass and at Flutterwave for each slow test number, credits
the wallet as a sandbox checkout would, pays ₦1,000 for each (as the pay form does: committed, then
enqueued for the running workers), and waits until every payment is final and every token that is
coming has come. It prints, per number and provider, the seconds to the final status and to the
token, and the machine's load. Nothing here is a timed test: the figures depend on the schedules
`make run` sets (webapp/sandbox/runner.py ``DEVRUN_SCHEDULES``) and on the machine.

Run with ``python bench/sandbox_numbers.py`` (``--timeout`` seconds to wait, default 300).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NUMBERS = {  # the README's sandbox table
    "1111111111111": "succeeds at once with a token",
    "1010101010101": "postpaid, succeeds, no token",
    "1234567890123": "any other number: succeeds",
    "2010000000000": "pending; succeeds on the 2nd status check",
    "3000000000000": "times out, was processed",
    "3000000000001": "times out with no record; resent",
    "4000000000000": "first 3 calls answer 503",
    "5000000000000": "fails (meter blocked), refunded",
    "6000000000000": "token on the 2nd status check",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    from sqlalchemy import select

    from tests.factories import make_user
    from tests.payments.helpers import link, prepaid_entry
    from webapp import create_app
    from webapp.extensions import db
    from webapp.infra import sqlite_files
    from webapp.models import Payment, User
    from webapp.services import ledger, payments

    app = create_app()
    # Its transactions take SQLite's write lock as they begin, like a POST's (infra/sqlite_files).
    with app.app_context(), sqlite_files.writing():
        demo = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        if demo is None:
            print("no demo estate: start `make run` first, with the same DATABASE_URL", file=sys.stderr)
            return 2
        run = uuid.uuid4().hex[:6]
        started: dict[int, tuple[str, str, float]] = {}
        for api_provider in ("vtpass", "flutterwave"):
            # A resident of the demo estate per provider and run (a number is linked once per resident),
            # with the wallet credit a verified sandbox checkout would post (funding is not measured here).
            resident = make_user(demo.estate, email=f"bench-{run}-{api_provider}@example.com", phone="+2348031234567")
            ledger.credit_funding(resident.id, len(NUMBERS) * 1_100_00, "paystack",
                                  f"bench-numbers-{run}-{api_provider}")
            db.session.commit()
            entry = prepaid_entry(resident.estate_id, api_provider)
            for number in NUMBERS:
                account = link(resident, entry, number, nickname=f"{number[-4:]} {api_provider}")
                payment = payments.create_utility_payment(resident, account.id, 1_000_00, f"bench-{run}-{account.id}")
                started[payment.id] = (number, api_provider, time.monotonic())
        print(f"{len(started)} payments made (run {run}); waiting for them to settle", flush=True)
        final_at: dict[int, float] = {}
        token_at: dict[int, float] = {}
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and (len(final_at) < len(started) or any(
                p.token_on_its_way for p in db.session.scalars(select(Payment).where(Payment.id.in_(started))))):
            db.session.rollback()
            for payment in db.session.scalars(select(Payment).where(Payment.id.in_(started))):
                if payment.is_final and payment.id not in final_at:
                    final_at[payment.id] = time.monotonic()
                if payment.token and payment.id not in token_at:
                    token_at[payment.id] = time.monotonic()
            db.session.rollback()
            time.sleep(0.5)
        db.session.rollback()
        rows = {p.id: p for p in db.session.scalars(select(Payment).where(Payment.id.in_(started)))}
        print(f"{'number':<15} {'provider':<12} {'status':<10} {'final':>8} {'token':>8}  expected")
        for payment_id, (number, api_provider, t0) in started.items():
            payment = rows[payment_id]
            final = f"{final_at[payment_id] - t0:.0f} s" if payment_id in final_at else "-"
            token = f"{token_at[payment_id] - t0:.0f} s" if payment_id in token_at else "-"
            print(f"{number:<15} {api_provider:<12} {payment.status:<10} {final:>8} {token:>8}  {NUMBERS[number]}")
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average {load} ({os.cpu_count()} CPUs)")
        slowest = max((final_at.get(i, float("inf")) - t0 for i, (_, _, t0) in started.items()), default=0)
        print(f"sandbox numbers: {len(final_at)} of {len(started)} final; slowest {slowest:.0f} s")
        return 0 if len(final_at) == len(started) else 1


if __name__ == "__main__":
    sys.exit(main())
