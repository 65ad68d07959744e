"""Whatever sequence of fundings, debits, refunds and estate payments happens, the books balance.

Hypothesis drives random sequences against a plain-Python model of the wallets. After every step
the ledger's invariants hold, every wallet matches the model and none is negative, and a refused
debit changes nothing at all.
"""
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from tests import factories
from webapp.extensions import db
from webapp.models import Account, JournalEntry, Posting
from webapp.services import ledger

WALLETS = 3
wallet_index = st.integers(0, WALLETS - 1)
kobo = st.integers(1, 30_000)

fund = st.tuples(st.just("fund"), wallet_index, st.integers(1, 60_000),
                 st.sampled_from(ledger.movements.FUNDING_GATEWAYS))
debit = st.tuples(st.just("debit"), wallet_index, kobo, st.integers(0, 500),
                  st.sampled_from(ledger.movements.BILLS_PROVIDERS))
estate_payment = st.tuples(st.just("estate"), wallet_index, kobo)
# Refund (or replay) the n-th debit made so far, modulo how many there are.
refund = st.tuples(st.just("refund"), st.integers(0, 50))
replay_funding = st.tuples(st.just("replay_funding"), st.integers(0, 50))
# System accounts' pending postings counted into their balances (the worker does it every minute).
roll_up = st.tuples(st.just("roll_up"))
# Listed more than once to weight the mix towards wallets with money to spend and refunds of it.
steps = st.lists(st.one_of(fund, fund, debit, debit, estate_payment, refund, refund, replay_funding, roll_up),
                 min_size=1, max_size=15)


@dataclass
class Model:
    wallets: list[int] = field(default_factory=lambda: [0] * WALLETS)
    estate: int = 0
    fundings: list[tuple[str, int, int, str]] = field(default_factory=list)  # ref, wallet, amount, gateway
    debits: list[tuple[str, int, int, bool]] = field(default_factory=list)  # ref, wallet, total, to_estate
    refunded: set[str] = field(default_factory=set)


@pytest.fixture
def people(estate):
    users = [factories.make_user(estate=estate) for _ in range(WALLETS)]
    return [user.id for user in users], estate.id


def empty_ledger() -> None:
    for model in (Posting, JournalEntry, Account):
        db.session.execute(delete(model))
    db.session.commit()


def snapshot() -> tuple:
    return (
        db.session.scalar(select(func.count(JournalEntry.id))),
        db.session.scalar(select(func.count(Posting.id))),
        tuple(db.session.execute(select(Account.id, Account.balance_kobo).order_by(Account.id))),
    )


def apply(step, model: Model, user_ids: list[int], estate_id: int, n: int | str) -> None:
    """Run one step against the ledger and the model; a refused debit must leave no trace."""
    op = step[0]
    if op == "roll_up":
        ledger.roll_up()
        assert ledger.pending_postings() == 0
    elif op == "fund":
        _, w, amount, gateway = step
        ref = f"F{n}"
        ledger.credit_funding(user_ids[w], amount, gateway, ref)
        model.fundings.append((ref, w, amount, gateway))
        model.wallets[w] += amount
    elif op == "replay_funding":
        if not model.fundings:
            return
        ref, w, amount, gateway = model.fundings[step[1] % len(model.fundings)]
        ledger.credit_funding(user_ids[w], amount, gateway, ref)  # a replayed webhook: no change
    elif op in ("debit", "estate"):
        w, amount = step[1], step[2]
        total = amount + (step[3] if op == "debit" else 0)
        ref = f"P{n}"
        before = snapshot()
        try:
            if op == "debit":
                ledger.debit_payment(user_ids[w], amount, step[3], step[4], ref)
            else:
                ledger.pay_estate(user_ids[w], estate_id, amount, ref)
        except ledger.InsufficientFunds:
            event("refused a debit")
            assert model.wallets[w] < total, "refused a debit the wallet could cover"
            db.session.commit()
            after = snapshot()
            # Only newly opened (empty) system/estate accounts may appear; no money moves.
            assert after[:2] == before[:2]
            assert set(before[2]) <= set(after[2])
            assert all(balance == 0 for row in set(after[2]) - set(before[2]) for balance in row[1:])
            return
        assert model.wallets[w] >= total, "allowed a debit the wallet could not cover"
        model.wallets[w] -= total
        model.estate += amount if op == "estate" else 0
        model.debits.append((ref, w, total, op == "estate"))
    elif op == "refund":
        if not model.debits:
            with pytest.raises(ledger.NothingToRefund):
                ledger.refund_payment("P-never")
            return
        ref, w, total, to_estate = model.debits[step[1] % len(model.debits)]
        ledger.refund_payment(ref)
        event("refund replayed" if ref in model.refunded else "refund")
        if ref not in model.refunded:
            model.refunded.add(ref)
            model.wallets[w] += total
            model.estate -= total if to_estate else 0
    db.session.commit()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opening=st.lists(st.integers(1, 60_000), min_size=WALLETS, max_size=WALLETS), steps=steps)
def test_any_sequence_of_movements_keeps_the_books_balanced(app, people, opening, steps):
    user_ids, estate_id = people
    empty_ledger()
    model = Model()
    for w, amount in enumerate(opening):
        apply(("fund", w, amount, "paystack"), model, user_ids, estate_id, f"open{w}")
    for n, step in enumerate(steps):
        apply(step, model, user_ids, estate_id, n)
        assert ledger.check_invariants() == []
        balances = [ledger.wallet_balance(user_id) for user_id in user_ids]
        assert balances == model.wallets
        assert all(balance >= 0 for balance in balances)
        estate_balance = db.session.scalar(select(Account.balance_kobo).where(Account.estate_id == estate_id))
        assert (estate_balance or 0) == model.estate
        # Between roll-ups too, the true balances (cached + pending) of all accounts sum to zero.
        assert sum(ledger.balance(account_id) for account_id in db.session.scalars(select(Account.id))) == 0
