"""Real concurrency on PostgreSQL: row locks keep a wallet from being overdrawn or credited twice.

Each thread has its own app context, hence its own session and database connection. A barrier
releases them together so the debits really race. SQLite has no row locks, so these skip there.
"""
import threading
import time

import pytest
from sqlalchemy import func, select, text

from webapp.extensions import db
from webapp.models import JournalEntry, Posting
from webapp.services import ledger

THREADS = 20


@pytest.fixture
def config_overrides():
    # One connection per thread, plus the test's own.
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 2, "max_overflow": 0}}


@pytest.fixture
def race(app, record_property):
    """``race(work, timing, what)`` runs ``work(i)`` in THREADS threads released together, asserts none
    of them failed, records (as ``timing``) and prints how long it took, and returns their results."""

    def run_race(work, timing: str, what: str) -> list:
        results, errors, elapsed = run_together(app, work)
        record_property(timing, round(elapsed, 3))
        print(f"\n{THREADS} {what} on PostgreSQL: {elapsed:.3f} s")
        assert errors == []
        return results

    return run_race


def run_together(app, work) -> tuple[list, list[str], float]:
    """Run ``work(i)`` in THREADS threads released together; return results, errors, elapsed seconds."""
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS
    errors: list[str] = []

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[i] = work(i)
            except Exception as exc:  # collected and asserted on by the test
                db.session.rollback()
                errors.append(f"thread {i}: {exc!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - started
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results, errors, elapsed


def test_concurrent_debits_never_overdraw_a_wallet(require_postgres, race, resident):
    opening = 10_000
    ledger.credit_funding(resident.id, opening, "paystack", "FUND-C")
    db.session.commit()
    amounts = [300 + 37 * i for i in range(THREADS)]  # 13,030 kobo asked of a 10,000 kobo wallet

    def debit(i: int) -> bool:
        try:
            ledger.debit_payment(resident.id, amounts[i], 0, "vtpass", f"PAY-C{i}")
        except ledger.InsufficientFunds:
            db.session.rollback()
            return False
        db.session.commit()
        return True

    results = race(debit, "concurrent_debits_seconds", "concurrent debits")

    taken = [amount for amount, ok in zip(amounts, results, strict=True) if ok]
    refused = [amount for amount, ok in zip(amounts, results, strict=True) if not ok]
    final = ledger.wallet_balance(resident.id)
    assert refused, "demand exceeded the balance, so some debits must be refused"
    assert final == opening - sum(taken) >= 0
    # The balance only falls, so every refused debit asked for more than was left at the end.
    assert all(amount > final for amount in refused)
    debits = db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.kind == "payment_debit"))
    assert debits == len(taken)
    assert ledger.check_invariants() == []


def test_concurrent_replays_of_one_funding_credit_post_it_once(require_postgres, race, resident):
    def credit(i: int) -> int:
        entry_id = ledger.credit_funding(resident.id, 5_000, "flutterwave", "FUND-R").id
        db.session.commit()
        return entry_id

    results = race(credit, "concurrent_replays_seconds", "concurrent replays of one credit")

    assert len(set(results)) == 1
    assert ledger.wallet_balance(resident.id) == 5_000
    assert db.session.scalar(select(func.count(JournalEntry.id))) == 1
    assert ledger.check_invariants() == []


# --- system accounts are never locked by a payment -----------------------------------------------

def _funded_residents(estate, n: int, kobo: int) -> list[int]:
    from tests.factories import make_user

    ids = []
    for i in range(n):
        user = make_user(estate=estate, email=f"payer{i}@example.com")
        ledger.credit_funding(user.id, kobo, "paystack", f"FUND-S{i}")
        ids.append(user.id)
    for code in ("clearing:vtpass", "clearing:flutterwave", "fees"):  # opened once, long before
        ledger.system_account(code)
    db.session.commit()
    return ids


def test_a_debit_never_waits_for_another_residents_open_debit_to_the_same_provider(require_postgres, app, estate):
    """Two residents' debits share ``clearing:vtpass`` and ``fees``; one holding its transaction
    open must not hold up the other. The second runs with a lock timeout, so waiting on any row fails."""
    first, second = _funded_residents(estate, 2, 10_000)
    ledger.debit_payment(first, 4_000, 100, "vtpass", "PAY-OPEN")  # flushed, not committed: its locks held
    outcome: list = []

    def other_resident_pays() -> None:
        with app.app_context():
            try:
                db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
                ledger.debit_payment(second, 3_000, 100, "vtpass", "PAY-OTHER")
                db.session.commit()
                outcome.append("committed")
            except Exception as exc:  # reported by the assertion below
                outcome.append(repr(exc))
            finally:
                db.session.remove()

    thread = threading.Thread(target=other_resident_pays)
    thread.start()
    thread.join(timeout=30)
    db.session.commit()
    assert outcome == ["committed"]
    assert ledger.check_invariants() == []
    assert ledger.balance(ledger.system_account("clearing:vtpass").id) == 7_000
    assert ledger.balance(ledger.system_account("fees").id) == 200


def test_roll_ups_racing_with_payments_count_every_posting_once(require_postgres, app, estate):
    """Payments commit while roll-ups run over and over; every invariant holds at each check and
    after a last roll-up each system balance is exactly the sum of its postings."""
    payers = _funded_residents(estate, THREADS, 50_000)
    ledger.roll_up()
    done = threading.Event()
    problems: list[str] = []

    def roll_up_and_check() -> None:
        with app.app_context():
            try:
                while not done.is_set():
                    ledger.roll_up()
                    problems.extend(ledger.check_invariants())
                    db.session.rollback()
            finally:
                db.session.remove()

    checker = threading.Thread(target=roll_up_and_check)
    checker.start()
    try:
        def pay(i: int) -> None:
            for n in range(5):
                ledger.debit_payment(payers[i], 1_000 + n, 50, "vtpass" if i % 2 else "flutterwave", f"PAY-R{i}-{n}")
                db.session.commit()
                if n == 2:
                    ledger.refund_payment(f"PAY-R{i}-{n}")
                    db.session.commit()

        results, errors, _ = run_together(app, pay)
        assert errors == []
    finally:
        done.set()
        checker.join(timeout=60)
    assert problems == []
    ledger.roll_up()
    assert ledger.pending_postings() == 0
    assert ledger.check_invariants() == []
    for code in ("clearing:vtpass", "clearing:flutterwave", "fees", "funding:paystack"):
        account = ledger.system_account(code)
        postings = db.session.scalar(select(func.sum(Posting.amount_kobo)).where(Posting.account_id == account.id))
        assert account.balance_kobo == postings, code
    # 4 kept payments of (1,000..1,004 - 1,002) + 50 fee each per resident
    assert ledger.balance(ledger.system_account("fees").id) == THREADS * 4 * 50
