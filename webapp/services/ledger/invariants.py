"""Checks that the books balance, runnable at any time (tests, ``flask ledger check``, monitoring).

Each check is one aggregate query, so checking a large ledger never loads it into Python. Other
services add their own money invariants (e.g. "every succeeded payment has exactly one debit")
with ``register_invariant``; ``check_invariants`` runs them too.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, literal, select

from webapp.extensions import db
from webapp.models import Account, JournalEntry, Posting

log = logging.getLogger(__name__)

# Enough lines to act on without flooding a terminal when something is badly wrong.
MAX_REPORTED = 100

Check = Callable[[], list[str]]
_registered: dict[str, Check] = {}


def register_invariant(name: str, func: Check) -> Check:
    """Add a named check returning violation messages (empty list when it holds).

    Registering a name again replaces the earlier check, so re-imports are harmless.
    """
    _registered[name] = func
    return func


def registered_invariants() -> dict[str, Check]:
    return dict(_registered)


def _describe(account_id: int, kind: str, code: str | None, user_id: int | None, estate_id: int | None) -> str:
    owner = {"resident_wallet": f"wallet of user {user_id}", "estate_wallet": f"wallet of estate {estate_id}"}
    return f"account {account_id} ({owner.get(kind, f'system {code}')})"


def _postings_sum_to_zero() -> list[str]:
    total = int(db.session.scalar(select(func.coalesce(func.sum(Posting.amount_kobo), 0))))
    return [] if total == 0 else [f"all postings sum to {total} kobo, not 0"]


def _entries_balanced() -> list[str]:
    count = func.count(Posting.id)
    total = func.coalesce(func.sum(Posting.amount_kobo), 0)
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.idempotency_key, count, total)
        .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id, JournalEntry.idempotency_key)
        .having((count < 2) | (total != 0))
        .order_by(JournalEntry.id)
        .limit(MAX_REPORTED)
    )
    return [
        f"entry {entry_id} ({key}) has {n} posting(s) summing to {int(amount)} kobo; needs >= 2 summing to 0"
        for entry_id, key, n, amount in rows
    ]


def _cached_balances_match() -> list[str]:
    """Each account's cached balance is the sum of its postings counted in it (``rollup``)."""
    sums = (
        select(Posting.account_id, func.sum(Posting.amount_kobo).label("total"))
        .where(Posting.in_balance)
        .group_by(Posting.account_id)
        .subquery()
    )
    total = func.coalesce(sums.c.total, literal(0))
    rows = db.session.execute(
        select(Account.id, Account.kind, Account.code, Account.user_id, Account.estate_id, Account.balance_kobo, total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance_kobo != total)
        .order_by(Account.id)
        .limit(MAX_REPORTED)
    )
    return [
        f"{_describe(*row[:5])}: cached balance {row[5]} kobo != postings sum {int(row[6])} kobo" for row in rows
    ]


def _wallet_postings_counted() -> list[str]:
    """Only a system account's postings may wait for the roll-up; a wallet's are in its balance at once."""
    rows = db.session.execute(
        select(Account.id, Account.kind, Account.code, Account.user_id, Account.estate_id, func.count(Posting.id))
        .join(Posting, Posting.account_id == Account.id)
        .where(~Account.allow_negative, ~Posting.in_balance)
        .group_by(Account.id, Account.kind, Account.code, Account.user_id, Account.estate_id)
        .order_by(Account.id)
        .limit(MAX_REPORTED)
    )
    return [f"{_describe(*row[:5])} has {row[5]} posting(s) left out of its balance" for row in rows]


def _wallets_not_negative() -> list[str]:
    rows = db.session.execute(
        select(Account.id, Account.kind, Account.code, Account.user_id, Account.estate_id, Account.balance_kobo)
        .where(~Account.allow_negative, Account.balance_kobo < 0)
        .order_by(Account.id)
        .limit(MAX_REPORTED)
    )
    return [f"{_describe(*row[:5])} is below zero: {row[5]} kobo" for row in rows]


def _keys_unique() -> list[str]:
    rows = db.session.execute(
        select(JournalEntry.idempotency_key, func.count(JournalEntry.id))
        .group_by(JournalEntry.idempotency_key)
        .having(func.count(JournalEntry.id) > 1)
        .limit(MAX_REPORTED)
    )
    return [f"idempotency key {key!r} used by {n} entries" for key, n in rows]


def _no_zero_postings() -> list[str]:
    n = db.session.scalar(select(func.count(Posting.id)).where(Posting.amount_kobo == 0))
    return [f"{n} posting(s) of zero kobo"] if n else []


LEDGER_CHECKS: tuple[Check, ...] = (
    _postings_sum_to_zero,
    _entries_balanced,
    _cached_balances_match,
    _wallet_postings_counted,
    _wallets_not_negative,
    _keys_unique,
    _no_zero_postings,
)


def check_invariants() -> list[str]:
    """Every money invariant the ledger can see, plus registered ones; an empty list means all hold.

    A registered check that crashes is reported as a violation (and logged with its traceback)
    rather than hiding the checks after it.
    """
    problems: list[str] = []
    for check in LEDGER_CHECKS:
        problems.extend(check())
    for name, check in _registered.items():
        try:
            problems.extend(f"{name}: {message}" for message in check())
        except Exception as exc:
            log.exception("invariant check %s crashed", name)
            problems.append(f"{name}: check crashed: {type(exc).__name__}: {exc}")
    return problems


def ledger_counts() -> tuple[int, int]:
    """(journal entries, accounts), for a one-line summary."""
    entries = db.session.scalar(select(func.count(JournalEntry.id)))
    accounts = db.session.scalar(select(func.count(Account.id)))
    return entries, accounts
