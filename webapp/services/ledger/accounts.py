"""Finding (or opening) ledger accounts and reading their balances."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.models import Account, AccountKind, Estate, Posting, User
from webapp.services.ledger.errors import UnknownAccount

# Fixed system accounts. They stand for money outside the platform (gateway inflow, what we owe
# a bills provider, fee income), so their sign is bookkeeping, not a spending limit: a resident's
# refund must never be blocked by a system account's balance. Hence all may go negative.
# ``payouts:<gateway>`` is payout clearing: estate money approved for a transfer that has not yet
# gone out through the gateway (or come back).
SYSTEM_ACCOUNT_PREFIXES = ("funding:", "clearing:", "payouts:")
SYSTEM_ACCOUNT_CODES = ("fees",)


def _check_system_code(code: str) -> None:
    known = code in SYSTEM_ACCOUNT_CODES or any(
        code.startswith(prefix) and len(code) > len(prefix) for prefix in SYSTEM_ACCOUNT_PREFIXES
    )
    if not known or len(code) > 64:
        raise UnknownAccount(f"no system account {code!r}")


def _insert_ignoring_conflicts(values: dict) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: race-safe account creation without a savepoint.

    On PostgreSQL a concurrent insert of the same owner waits for the other transaction and then
    does nothing, and the re-select sees the committed row. A SAVEPOINT would also do, but with the
    default pysqlite driver a savepoint opened before any other write becomes the outermost
    transaction, and releasing it commits behind the caller's back.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(Account).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(Account).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(f"ledger accounts need PostgreSQL or SQLite, not {dialect}")
    db.session.execute(stmt)


def _get_or_create(where: ColumnElement[bool], values: dict) -> Account:
    account = db.session.scalar(select(Account).where(where))
    if account is not None:
        return account
    _insert_ignoring_conflicts(values)
    return db.session.scalars(select(Account).where(where)).one()


def wallet_account(user_id: int) -> Account:
    """The resident's wallet, opened on first use. Flushes; the caller commits."""
    account = db.session.scalar(select(Account).where(Account.user_id == user_id))
    if account is not None:
        return account
    # SQLite does not enforce foreign keys here, so check the owner exists ourselves.
    if db.session.get(User, user_id) is None:
        raise UnknownAccount(f"no user {user_id}")
    return _get_or_create(
        Account.user_id == user_id, {"kind": AccountKind.RESIDENT_WALLET.value, "user_id": user_id}
    )


def estate_account(estate_id: int) -> Account:
    """The estate's wallet (receives estate bill payments), opened on first use."""
    account = db.session.scalar(select(Account).where(Account.estate_id == estate_id))
    if account is not None:
        return account
    if db.session.get(Estate, estate_id) is None:
        raise UnknownAccount(f"no estate {estate_id}")
    return _get_or_create(
        Account.estate_id == estate_id, {"kind": AccountKind.ESTATE_WALLET.value, "estate_id": estate_id}
    )


def system_account(code: str) -> Account:
    """A system account by code: ``funding:<gateway>``, ``clearing:<provider>``, ``payouts:<gateway>``
    or ``fees``."""
    _check_system_code(code)
    return _get_or_create(
        Account.code == code, {"kind": AccountKind.SYSTEM.value, "code": code, "allow_negative": True}
    )


def balance(account_id: int) -> int:
    """The account's balance in kobo, this transaction's own postings included.

    A wallet's is its stored balance; a system account's also counts the postings the roll-up
    has not added yet (``rollup``)."""
    pending = (select(func.coalesce(func.sum(Posting.amount_kobo), 0))
               .where(Posting.account_id == Account.id, ~Posting.in_balance).scalar_subquery())
    value = db.session.scalar(select(Account.balance_kobo + pending).where(Account.id == account_id))
    if value is None:
        raise UnknownAccount(f"no account {account_id}")
    return int(value)


def wallet_balance(user_id: int) -> int:
    """The resident's wallet balance, 0 when no wallet exists yet. Never creates a row (safe on GET)."""
    value = db.session.scalar(select(Account.balance_kobo).where(Account.user_id == user_id))
    return value or 0


def estate_balance(estate_id: int) -> int:
    """The estate wallet's balance, 0 when it has none yet. Never creates a row (safe on GET)."""
    value = db.session.scalar(select(Account.balance_kobo).where(Account.estate_id == estate_id))
    return value or 0


def wallet_balances(user_ids: Iterable[int]) -> dict[int, int]:
    """``wallet_balance`` of each resident, in one query (0 for those without a wallet yet)."""
    user_ids = list(user_ids)
    found = dict(db.session.execute(
        select(Account.user_id, Account.balance_kobo).where(Account.user_id.in_(user_ids))).all())
    return {user_id: found.get(user_id) or 0 for user_id in user_ids}
