"""The double-entry wallet ledger: accounts, journal entries and their postings.

Only ``webapp.services.ledger`` writes these tables. Every money movement is one ``JournalEntry``
with two or more ``Posting`` rows that sum to zero. ``Account.balance_kobo`` is a cache of the sum
of the account's postings marked ``in_balance``: a wallet's postings are all in its balance from the
transaction that writes them (the wallet row is locked and updated there), a system account's are
appended unlocked and added to its balance later in aggregate (``ledger.roll_up``). The CHECK
constraints are the last line of defence behind the service's own checks.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class AccountKind(enum.StrEnum):
    RESIDENT_WALLET = "resident_wallet"
    ESTATE_WALLET = "estate_wallet"
    # Money outside the platform: gateway inflow, provider clearing, fee income.
    SYSTEM = "system"


class EntryKind(enum.StrEnum):
    """Kinds the ledger's own helpers post; other services may post further snake_case kinds."""

    FUNDING_CREDIT = "funding_credit"
    PAYMENT_DEBIT = "payment_debit"
    PAYMENT_REFUND = "payment_refund"
    ESTATE_PAYMENT = "estate_payment"
    ADJUSTMENT = "adjustment"
    # A payout: the estate wallet into payout clearing on approval, then out through the gateway
    # when the transfer succeeds, or back to the estate wallet when it fails or is reversed.
    PAYOUT_DEBIT = "payout_debit"
    PAYOUT_SENT = "payout_sent"
    PAYOUT_RETURN = "payout_return"
    PAYOUT_REVERSAL = "payout_reversal"


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('resident_wallet', 'estate_wallet', 'system')", name="kind_known"
        ),
        # Exactly one owner, and the right kind of owner for the kind of account.
        CheckConstraint(
            "(kind = 'resident_wallet' AND user_id IS NOT NULL AND estate_id IS NULL AND code IS NULL)"
            " OR (kind = 'estate_wallet' AND estate_id IS NOT NULL AND user_id IS NULL AND code IS NULL)"
            " OR (kind = 'system' AND code IS NOT NULL AND user_id IS NULL AND estate_id IS NULL)",
            name="owner_matches_kind",
        ),
        CheckConstraint("NOT allow_negative OR kind = 'system'", name="only_system_may_go_negative"),
        CheckConstraint("allow_negative OR balance_kobo >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # Stable name of a system account, e.g. "funding:paystack", "clearing:vtpass", "fees".
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estates.id"), unique=True)
    balance_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="NGN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    user = relationship("User")
    estate = relationship("Estate")

    @property
    def label(self) -> str:
        """Who or what the account belongs to, for operators reading reports."""
        if self.kind == AccountKind.RESIDENT_WALLET:
            return f"wallet of user {self.user_id}"
        if self.kind == AccountKind.ESTATE_WALLET:
            return f"wallet of estate {self.estate_id}"
        return f"system {self.code}"

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.label} {self.balance_kobo}>"


class JournalEntry(db.Model):
    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "payment:<ref>:debit"; unique so a retried job or replayed webhook never posts twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    memo: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    # The business reference (payment or funding reference) the entry belongs to.
    reference: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", order_by="Posting.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<JournalEntry {self.id} {self.idempotency_key}>"


class Posting(db.Model):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount_kobo <> 0", name="amount_not_zero"),
        # One posting per account per entry keeps entries easy to compare and reverse.
        UniqueConstraint("entry_id", "account_id", name="uq_postings_entry_id_account_id"),
        # Statements page through one account's postings in id order.
        Index("ix_postings_account_id_id", "account_id", "id"),
        # The roll-up finds the few postings not yet in a balance without scanning the rest.
        Index("ix_postings_pending", "account_id", postgresql_where=text("NOT in_balance"),
              sqlite_where=text("NOT in_balance")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), nullable=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    # Signed: positive increases the account's balance.
    amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Counted in the account's cached balance yet. False only for a system account's postings
    # between their transaction and the next roll-up.
    in_balance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship()

    def __repr__(self) -> str:
        return f"<Posting {self.id} entry={self.entry_id} account={self.account_id} {self.amount_kobo}>"
