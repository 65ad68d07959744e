"""Bringing system accounts' cached balances up to date: the roll-up.

A payment's postings to ``clearing:<provider>`` and ``fees`` (and a top-up's to ``funding:<gateway>``)
are written with ``in_balance = false`` and without touching or locking the account row
(``entries.post_entry``), so payments of different residents never wait on a shared row. The
roll-up adds those postings to their accounts' balances in aggregate and marks them counted.

What "the balance equals the sum of postings" means, at every moment:
- every account: ``balance_kobo`` == the sum of its postings with ``in_balance``;
- a wallet's postings are always ``in_balance`` (its row is locked and updated with them);
- a system account's true balance is ``balance_kobo`` + the sum of its pending postings
  (``accounts.balance`` returns that), and equals ``balance_kobo`` right after a roll-up.
``invariants`` checks the first two; the true balance needs no check of its own.
"""
from __future__ import annotations

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import Account, Posting


def roll_up() -> int:
    """Count every pending posting into its account's balance; return how many accounts changed.

    Safe to run at any time and concurrently with payments and with itself: on PostgreSQL one
    statement marks the committed pending postings counted and adds exactly those to their
    accounts (a concurrent roll-up waits for the posting rows and then skips them); SQLite has one
    writer at a time, so its two statements see the same pending rows. Commits.
    """
    postings, accounts = Posting.__table__, Account.__table__  # Core statements: no ORM objects involved
    pending = ~postings.c.in_balance
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        moved = (update(postings).where(pending).values(in_balance=True)
                 .returning(postings.c.account_id, postings.c.amount_kobo).cte("moved"))
        totals = (select(moved.c.account_id, func.sum(moved.c.amount_kobo).label("total"))
                  .group_by(moved.c.account_id).subquery("totals"))
        changed = connection.execute(
            update(accounts).where(accounts.c.id == totals.c.account_id)
            .values(balance_kobo=accounts.c.balance_kobo + totals.c.total).returning(accounts.c.id)
        ).all()
    else:
        total = (select(func.sum(postings.c.amount_kobo))
                 .where(postings.c.account_id == accounts.c.id, pending).scalar_subquery())
        changed = connection.execute(
            update(accounts).where(accounts.c.id.in_(select(postings.c.account_id).where(pending)))
            .values(balance_kobo=accounts.c.balance_kobo + total).returning(accounts.c.id)
        ).all()
        connection.execute(update(postings).where(pending).values(in_balance=True))
    db.session.commit()
    return len(changed)


def pending_postings() -> int:
    """How many system postings wait for the next roll-up."""
    return db.session.scalar(select(func.count(Posting.id)).where(~Posting.in_balance))
