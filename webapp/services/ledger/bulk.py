"""Many bill-payment debits in one go: the batch worker's transaction 1 (DESIGN §9).

The same movements and rules as ``movements.debit_payment`` one by one, in a few multi-row
statements: the keys already posted are read at once, the wallets are locked in id order and read
once, the amounts are checked against the running balances in the order given, and the entries,
their postings and the new wallet balances are written with one statement each. A debit the wallet
cannot cover is refused (nothing written for it) and the rest go on; system accounts are not locked
(their postings wait for the roll-up, see ``rollup``). Flushes in the caller's transaction.

A debit may also count against a spending cap the caller read under the same wallet locks (a
household payer's monthly limit, ``Debit.cap_key`` into ``caps``): the caps run down in the order
given like the balances, so a batch never takes more than a cap leaves, whatever its size.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update

from webapp.extensions import db
from webapp.models import Account, EntryKind, JournalEntry, Posting
from webapp.providers.http import DISPLAY_NAMES
from webapp.services.ledger.entries import lock_wallets, normalise_postings, replay
from webapp.services.ledger.errors import InsufficientFunds, InvalidPostings, SpendingCapReached
from webapp.services.ledger.movements import BILLS_PROVIDERS, payment_debit_key


@dataclass(frozen=True)
class Debit:
    """One bill payment to take from a wallet: ``account_ids`` are (wallet, clearing, fees)."""

    user_id: int
    amount_kobo: int
    fee_kobo: int
    provider: str
    reference: str
    account_ids: tuple[int, int, int]
    cap_key: object | None = None  # the spending cap it counts against, a key of ``caps`` (None: none)

    def postings(self) -> list[tuple[int, int]]:
        wallet, clearing, fees = self.account_ids
        pairs = [(wallet, -(self.amount_kobo + self.fee_kobo)), (clearing, self.amount_kobo)]
        if self.fee_kobo:
            pairs.append((fees, self.fee_kobo))
        return normalise_postings(pairs)


def debit_payments(debits: list[Debit], caps: Mapping | None = None
                   ) -> dict[str, InsufficientFunds | SpendingCapReached | None]:
    """Post every debit the wallets (and caps) cover, in the order given; for each reference None
    (posted, or posted before under its key) or the ``InsufficientFunds`` or ``SpendingCapReached``
    that refused it. ``caps``: kobo left per cap key, read by the caller after ``lock_wallets``
    (a key not in it, or None, is no cap)."""
    for debit in debits:
        if debit.provider not in BILLS_PROVIDERS:
            raise InvalidPostings(f"unknown bills provider {debit.provider!r}")
        if type(debit.fee_kobo) is not int or debit.fee_kobo < 0:
            raise InvalidPostings(f"fee_kobo must be a non-negative int of kobo, not {debit.fee_kobo!r}")
    if len({debit.reference for debit in debits}) != len(debits):
        raise InvalidPostings("a batch names each payment once")
    keys = {payment_debit_key(debit.reference): debit for debit in debits}
    posted = set(db.session.scalars(select(JournalEntry.idempotency_key)
                                    .where(JournalEntry.idempotency_key.in_(list(keys)))))
    for key in posted:  # already posted (rare: a retried batch): it must be the same movement
        replay(key, EntryKind.PAYMENT_DEBIT, keys[key].postings())

    lock_wallets(debit.user_id for debit in debits)
    wallet_ids = sorted({debit.account_ids[0] for debit in debits})
    balances = dict(db.session.execute(
        select(Account.id, Account.balance_kobo).where(Account.id.in_(wallet_ids), ~Account.allow_negative)
        .with_for_update()).all())
    outcome: dict[str, InsufficientFunds | SpendingCapReached | None] = {}
    accepted: list[Debit] = []
    left = {key: value for key, value in (caps or {}).items() if value is not None}
    for key, debit in keys.items():
        if key in posted:
            outcome[debit.reference] = None
            continue
        wallet = debit.account_ids[0]
        total = debit.amount_kobo + debit.fee_kobo
        if wallet not in balances:
            raise InvalidPostings(f"account {wallet} is not a wallet")
        if balances[wallet] < total:
            outcome[debit.reference] = InsufficientFunds(wallet, balances[wallet], total)
            continue
        if debit.cap_key in left:
            if left[debit.cap_key] < total:
                outcome[debit.reference] = SpendingCapReached(debit.cap_key, left[debit.cap_key], total)
                continue
            left[debit.cap_key] -= total
        balances[wallet] -= total
        accepted.append(debit)
        outcome[debit.reference] = None
    if not accepted:
        return outcome

    entry_ids = dict(db.session.execute(
        insert(JournalEntry).returning(JournalEntry.idempotency_key, JournalEntry.id),
        [{"idempotency_key": payment_debit_key(debit.reference), "kind": EntryKind.PAYMENT_DEBIT.value,
          "memo": f"Bill payment via {DISPLAY_NAMES[debit.provider]}", "reference": debit.reference}
         for debit in accepted]).all())
    db.session.execute(insert(Posting), [
        {"entry_id": entry_ids[payment_debit_key(debit.reference)], "account_id": account_id, "amount_kobo": amount,
         "in_balance": account_id == debit.account_ids[0]}
        for debit in accepted for account_id, amount in debit.postings()])
    changed = sorted({debit.account_ids[0] for debit in accepted})
    accounts = Account.__table__
    db.session.execute(update(accounts).where(accounts.c.id == bindparam("wallet"))
                       .values(balance_kobo=bindparam("balance")),
                       [{"wallet": wallet, "balance": balances[wallet]} for wallet in changed])
    # Wallet objects this session loaded earlier hold the old balance: read them afresh if used.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Account) and obj.id in balances:
            db.session.expire(obj)
    return outcome
