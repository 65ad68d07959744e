"""Posting journal entries: the only way money moves."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Account, JournalEntry, Posting
from webapp.services.ledger.accounts import estate_account
from webapp.services.ledger.errors import IdempotencyConflict, InsufficientFunds, InvalidPostings, UnknownAccount

KIND_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
MAX_KEY_LENGTH = 200
MAX_MEMO_LENGTH = 255
MAX_REFERENCE_LENGTH = 100

PostingSpec = tuple[Account | int, int]


def _account_id(account: Account | int) -> int:
    if isinstance(account, Account):
        if account.id is None:
            raise InvalidPostings("post to an account that has been flushed (it has no id yet)")
        return account.id
    if type(account) is not int:
        raise InvalidPostings(f"an account is an Account or an int id, not {type(account).__name__}")
    return account


def normalise_postings(postings: Iterable[PostingSpec]) -> list[tuple[int, int]]:
    """Check the postings describe a balanced movement; return ``(account_id, amount)`` by account id."""
    pairs = []
    for item in postings:
        try:
            account, amount = item
        except (TypeError, ValueError) as exc:
            raise InvalidPostings(f"a posting is an (account, amount_kobo) pair, not {item!r}") from exc
        # bool is an int subclass and float/Decimal are not whole kobo: all refused.
        if type(amount) is not int:
            raise InvalidPostings(f"amounts are int kobo, not {type(amount).__name__} ({amount!r})")
        if amount == 0:
            raise InvalidPostings("a posting of zero kobo moves nothing")
        pairs.append((_account_id(account), amount))
    if len(pairs) < 2:
        raise InvalidPostings("an entry needs at least two postings")
    if len({account_id for account_id, _ in pairs}) != len(pairs):
        raise InvalidPostings("post to each account at most once per entry")
    total = sum(amount for _, amount in pairs)
    if total != 0:
        raise InvalidPostings(f"postings sum to {total} kobo, not 0")
    return sorted(pairs)


def _check_text(idempotency_key: str, kind: str, memo: str, reference: str | None) -> None:
    if not isinstance(idempotency_key, str) or not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise InvalidPostings(f"idempotency key must be 1-{MAX_KEY_LENGTH} characters")
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        raise InvalidPostings(f"entry kind must be snake_case, at most 32 characters, not {kind!r}")
    if not isinstance(memo, str) or len(memo) > MAX_MEMO_LENGTH:
        raise InvalidPostings(f"memo must be text of at most {MAX_MEMO_LENGTH} characters")
    if reference is not None and (not isinstance(reference, str) or len(reference) > MAX_REFERENCE_LENGTH):
        raise InvalidPostings(f"reference must be text of at most {MAX_REFERENCE_LENGTH} characters")


def find_entry(idempotency_key: str) -> JournalEntry | None:
    """The entry posted under this key, if any."""
    return db.session.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == idempotency_key))


def entry_postings(entry_id: int) -> list[tuple[int, int]]:
    """An entry's postings as ``(account_id, amount_kobo)`` sorted by account id."""
    rows = db.session.execute(
        select(Posting.account_id, Posting.amount_kobo).where(Posting.entry_id == entry_id).order_by(Posting.account_id)
    )
    return [(account_id, amount) for account_id, amount in rows]


def replay(idempotency_key: str, kind: str, pairs: Sequence[tuple[int, int]]) -> JournalEntry | None:
    """The already-posted entry for this key when it is the same movement; raise when it is not."""
    existing = find_entry(idempotency_key)
    if existing is None:
        return None
    if existing.kind != kind or entry_postings(existing.id) != list(pairs):
        raise IdempotencyConflict(idempotency_key)
    return existing


def _accounts_for(account_ids: Sequence[int]) -> tuple[dict[int, Account], set[int]]:
    """Lock the entry's wallets (in id order, so two movements never deadlock) and re-read their
    balances; return them with the ids of its system accounts, which are never locked.

    A system account (``allow_negative``) has no limit to guard, so nothing needs its lock: its
    postings are appended pending and ``roll_up`` adds them to its balance later. Were every payment
    to lock ``clearing:<provider>`` and ``fees``, those two rows would serialise all debits.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the wallets. SQLite has no row locks and ignores FOR
    UPDATE, so a no-op UPDATE takes the database write lock first: other writers wait until we
    commit and the balances read next cannot change under us.
    """
    kinds = dict(db.session.execute(
        select(Account.id, Account.allow_negative).where(Account.id.in_(account_ids))).all())
    missing = sorted(set(account_ids) - set(kinds))
    if missing:
        raise UnknownAccount(f"no account {missing[0]}")
    wallet_ids = sorted(account_id for account_id, may_go_negative in kinds.items() if not may_go_negative)
    system_ids = set(kinds) - set(wallet_ids)
    if not wallet_ids:
        return {}, system_ids
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            update(Account).where(Account.id.in_(wallet_ids)).values(balance_kobo=Account.balance_kobo),
            execution_options={"synchronize_session": False},
        )
    wallets = db.session.scalars(
        select(Account)
        .where(Account.id.in_(wallet_ids))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {account.id: account for account in wallets}, system_ids


def lock_wallets(user_ids: Iterable[int]) -> None:
    """Lock these residents' wallets in id order, for a transaction that will debit several of
    them (a batch of payments): taking them all first, in one order, means two batches never
    deadlock however their residents overlap. ``post_entry`` then finds them already held."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    if db.session.get_bind().dialect.name == "sqlite":  # no row locks: take the write lock (see above)
        db.session.execute(update(Account).where(Account.user_id.in_(ids)).values(balance_kobo=Account.balance_kobo),
                           execution_options={"synchronize_session": False})
    db.session.execute(select(Account.id).where(Account.user_id.in_(ids)).order_by(Account.id).with_for_update())


def lock_estate_wallet(estate_id: int) -> None:
    """Lock the estate's wallet (opened on first use) until the caller commits: for a check that
    reads its balance and must not race another (a payout request against what is available)."""
    _accounts_for([estate_account(estate_id).id])


def post_entry(
    idempotency_key: str,
    postings: Iterable[PostingSpec],
    *,
    kind: str,
    memo: str = "",
    reference: str | None = None,
) -> JournalEntry:
    """Post one balanced movement, exactly once per idempotency key.

    ``postings`` are ``(account or account id, signed int kobo)``; positive increases the account's
    balance; they must sum to zero. Posting the same key again returns the first entry (so a
    retried job or replayed webhook is harmless); the same key with different postings raises
    ``IdempotencyConflict``. Wallets are locked in id order and never taken below zero
    (``InsufficientFunds``); system accounts are not locked (their postings wait for ``roll_up``).
    On any error nothing is written.

    The entry, postings and cached balances are flushed inside the caller's transaction; the
    caller commits, so its own state change (e.g. a payment's status) commits atomically with the
    money. Never call this while waiting on HTTP: the wallet rows stay locked until commit.
    """
    _check_text(idempotency_key, kind, memo, reference)
    pairs = normalise_postings(postings)

    replayed = replay(idempotency_key, kind, pairs)
    if replayed is not None:
        return replayed

    wallets, system_ids = _accounts_for([account_id for account_id, _ in pairs])
    # A concurrent post of the same key may have committed while we waited for the locks.
    replayed = replay(idempotency_key, kind, pairs)
    if replayed is not None:
        return replayed

    for account_id, amount in pairs:
        wallet = wallets.get(account_id)
        if wallet is not None and wallet.balance_kobo + amount < 0:
            raise InsufficientFunds(account_id, wallet.balance_kobo, -amount)

    try:
        with db.session.begin_nested():
            entry = JournalEntry(idempotency_key=idempotency_key, kind=kind, memo=memo, reference=reference)
            entry.postings = [
                Posting(account_id=account_id, amount_kobo=amount, in_balance=account_id not in system_ids)
                for account_id, amount in pairs]
            db.session.add(entry)
            for account_id, amount in pairs:
                if account_id in wallets:
                    wallets[account_id].balance_kobo += amount
            db.session.flush()
    except IntegrityError:
        # The unique key is the final guard: someone else posted this key between our check and insert.
        replayed = replay(idempotency_key, kind, pairs)
        if replayed is None:
            raise
        return replayed
    return entry
