"""Wallet funding: one ``FundingIntent`` per hosted-checkout attempt, and the cards it leaves behind.

The intent carries our own reference (sent to the gateway as Paystack ``reference`` / Flutterwave
``tx_ref``). Money only moves when ``services.funding.confirm_funding`` has verified the transaction
through the gateway's API; the intent's status records what that verification found.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import EncryptedString, TimestampMixin, UTCDateTime, one_of, utcnow


class FundingStatus(enum.StrEnum):
    PENDING = "pending"  # created; the resident may be on the gateway's checkout page
    CREDITED = "credited"  # verified and posted to the wallet (final)
    FAILED = "failed"  # gateway declined, or the checkout could not be opened
    ABANDONED = "abandoned"  # the gateway says the resident left the checkout without paying
    EXPIRED = "expired"  # no payment within the intent's lifetime
    FLAGGED = "flagged"  # the gateway's record disagrees with ours (amount/currency/reference); no credit (final)


class Gateway(enum.StrEnum):
    PAYSTACK = "paystack"
    FLUTTERWAVE = "flutterwave"


# Only these never change again. A verified success still credits a failed, abandoned or expired
# intent: money the gateway took must reach the wallet.
FINAL = frozenset({FundingStatus.CREDITED, FundingStatus.FLAGGED})



class FundingIntent(TimestampMixin, db.Model):
    __tablename__ = "funding_intents"
    __table_args__ = (
        CheckConstraint(one_of("status", FundingStatus), name="status_known"),
        CheckConstraint(one_of("gateway", Gateway), name="gateway_known"),
        CheckConstraint("amount_kobo > 0", name="amount_positive"),
        # The expiry job scans pending intents by expiry time.
        Index("ix_funding_intents_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Letters, digits and '-' only (inside Paystack's allowed set and Flutterwave's tx_ref rules).
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    gateway: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="NGN")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=FundingStatus.PENDING.value)
    checkout_url: Mapped[str | None] = mapped_column(String(500))
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(64))
    # Plain words for the resident (failed) or for the reviewing admin (flagged).
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    flag_reason: Mapped[str | None] = mapped_column(String(255))
    # The gateway's last verification answer, already redacted by the provider client.
    verification: Mapped[dict | None] = mapped_column(JSON)
    saved_card_id: Mapped[int | None] = mapped_column(ForeignKey("saved_cards.id"))
    # Set for a bank transfer into the resident's virtual account (the gateway made the reference).
    virtual_account_id: Mapped[int | None] = mapped_column(ForeignKey("virtual_accounts.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = db.relationship("User")
    saved_card = db.relationship("SavedCard")
    virtual_account = db.relationship("VirtualAccount")

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def is_pending(self) -> bool:
        return self.status == FundingStatus.PENDING

    def __repr__(self) -> str:
        return f"<FundingIntent {self.reference} {self.gateway} {self.amount_kobo} {self.status}>"


class SavedCard(db.Model):
    """A reusable Paystack authorization: the "direct" payment source an automation may charge."""

    __tablename__ = "saved_cards"
    __table_args__ = (
        # The same physical card funded twice is one row (its authorization code is refreshed).
        UniqueConstraint("user_id", "gateway", "brand", "last4", "exp_month", "exp_year", name="uq_saved_cards_card"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    gateway: Mapped[str] = mapped_column(String(20), nullable=False, default=Gateway.PAYSTACK.value)
    # A bearer credential for charging the card: encrypted at rest, never shown or logged.
    authorization_code: Mapped[str] = mapped_column(EncryptedString(), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    brand: Mapped[str] = mapped_column(String(30), nullable=False, default="")
    exp_month: Mapped[str] = mapped_column(String(2), nullable=False, default="")
    exp_year: Mapped[str] = mapped_column(String(4), nullable=False, default="")
    reusable: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    user = db.relationship("User")

    @property
    def label(self) -> str:
        return f"{self.brand.title() or 'Card'} •••• {self.last4} (exp {self.exp_month}/{self.exp_year[-2:]})"

    def __repr__(self) -> str:
        return f"<SavedCard {self.id} user={self.user_id} {self.brand} {self.last4}>"


class VirtualAccount(TimestampMixin, db.Model):
    """A resident's dedicated bank account number at a gateway (Paystack Dedicated Virtual Account).

    Transfers into it arrive as the gateway's ``charge.success`` with channel ``dedicated_nuban``
    and are credited through a ``FundingIntent`` named by the gateway's own reference. The row is
    created (inactive) before the gateway is asked for an account, so two clicks share it and an
    assignment that failed halfway keeps what the gateway already gave us (its customer) for the retry.
    """

    __tablename__ = "virtual_accounts"
    __table_args__ = (
        CheckConstraint(one_of("gateway", Gateway), name="gateway_known"),
        # One account per resident and gateway: assigning twice finds the first one.
        UniqueConstraint("user_id", "gateway", name="uq_virtual_accounts_user_gateway"),
        UniqueConstraint("gateway", "account_number", name="uq_virtual_accounts_number"),
        # A transfer's webhook names the gateway's customer.
        Index("ix_virtual_accounts_gateway_customer_code", "gateway", "customer_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    gateway: Mapped[str] = mapped_column(String(20), nullable=False, default=Gateway.PAYSTACK.value)
    # The gateway's customer: its code (CUS_...) and numeric id (the listing filters by the id).
    customer_code: Mapped[str | None] = mapped_column(String(64))
    gateway_customer_id: Mapped[str | None] = mapped_column(String(32))
    account_number: Mapped[str | None] = mapped_column(String(20))
    account_name: Mapped[str | None] = mapped_column(String(120))
    bank_name: Mapped[str | None] = mapped_column(String(120))
    # False until the gateway has given an account number (or after the gateway deactivates it).
    active: Mapped[bool] = mapped_column(nullable=False, default=False)
    # When an assignment was started: another one waits until this has run out (see services).
    assigning_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = db.relationship("User")

    def __repr__(self) -> str:
        return f"<VirtualAccount {self.id} user={self.user_id} {self.gateway} {self.account_number} {self.active}>"
