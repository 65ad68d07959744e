"""Payouts: money sent from an estate's wallet to the estate's own bank account, approved by a
second admin (maker-checker), and the bank accounts the estate may send to.

A payout's state machine (``TRANSITIONS``), driven by ``services.payouts``:

```
requested ──approve (2nd admin; estate wallet → payout clearing)──▶ approved ──▶ submitted ──▶ pending
    ├──reject──▶ rejected                                              │             │
    └──withdraw──▶ cancelled                          ┌────────────────┘             ▼
                                                      ▼                  succeeded ──▶ reversed (money back)
                                   unknown ──verify──▶ succeeded | failed (money back) | approved (resend,
                                                                      same reference, after "no record")
```
``submitted`` is committed before the HTTP call; a timeout after it means ``unknown``, which the
janitor asks the gateway about and never sends again under another reference.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.infra.crypto import MASK
from webapp.models.base import EncryptedString, TimestampMixin, UTCDateTime, one_of, utcnow

PAYOUT_GATEWAYS = ("paystack", "flutterwave")


class PayoutStatus(enum.StrEnum):
    REQUESTED = "requested"  # waits for a second admin
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # withdrawn by the admin who asked
    APPROVED = "approved"  # debited (estate wallet → payout clearing); not sent yet, so sending is safe
    SUBMITTED = "submitted"  # committed before the transfer call, so a crash leaves evidence
    PENDING = "pending"  # the gateway accepted it and has not finished
    UNKNOWN = "unknown"  # sent, outcome not known: asked again, never sent under a new reference
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the money is back in the estate wallet
    REVERSED = "reversed"  # paid, then returned by the bank; the money is back in the estate wallet


S = PayoutStatus
FINAL_PAYOUT_STATUSES = frozenset({S.REJECTED, S.CANCELLED, S.FAILED, S.REVERSED})
# Money has left the estate wallet and not come back or gone out: the payout clearing account's share.
IN_FLIGHT_STATUSES = frozenset({S.APPROVED, S.SUBMITTED, S.PENDING, S.UNKNOWN})
# Statuses the gateway may still change (a success can still be reversed by the bank).
CHECKED_STATUSES = frozenset({S.SUBMITTED, S.PENDING, S.UNKNOWN})

TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SUBMITTED, S.FAILED}),
    # submitted -> approved: the gateway did not take it (transient); sending again is safe.
    S.SUBMITTED: frozenset({S.PENDING, S.SUCCEEDED, S.FAILED, S.UNKNOWN, S.APPROVED, S.REVERSED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.UNKNOWN, S.REVERSED}),
    # unknown -> approved: the gateway says it has no record, so the same reference may go again.
    S.UNKNOWN: frozenset({S.PENDING, S.SUCCEEDED, S.FAILED, S.APPROVED, S.REVERSED}),
    S.SUCCEEDED: frozenset({S.REVERSED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.REVERSED: frozenset(),
}

STATUS_LABELS = {
    S.REQUESTED: "Awaiting approval", S.REJECTED: "Rejected", S.CANCELLED: "Withdrawn", S.APPROVED: "Approved",
    S.SUBMITTED: "Sending", S.PENDING: "With the bank", S.UNKNOWN: "Checking with the gateway",
    S.SUCCEEDED: "Paid", S.FAILED: "Failed · money returned", S.REVERSED: "Reversed · money returned",
}


class PayoutAccount(TimestampMixin, db.Model):
    """A bank account an estate may pay out to, as the gateway resolved it (the name is the bank's)."""

    __tablename__ = "payout_accounts"
    __table_args__ = (
        CheckConstraint(one_of("gateway", PAYOUT_GATEWAYS), name="gateway_known"),
        # One live copy of an account per estate and gateway (a removed one may be added again).
        Index("uq_payout_accounts_live", "estate_id", "gateway", "number_hash", "bank_code", unique=True,
              sqlite_where=db.text("removed_at IS NULL"), postgresql_where=db.text("removed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), index=True, nullable=False)
    gateway: Mapped[str] = mapped_column(String(20), nullable=False)
    bank_code: Mapped[str] = mapped_column(String(20), nullable=False)
    bank_name: Mapped[str] = mapped_column(String(120), nullable=False)
    # Encrypted at rest; ``number_hash`` (keyed HMAC) for uniqueness; ``last4`` for display.
    account_number: Mapped[str] = mapped_column(EncryptedString(), nullable=False)
    number_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    account_name: Mapped[str] = mapped_column(String(160), nullable=False)  # as the bank gave it
    recipient_code: Mapped[str | None] = mapped_column(String(80))  # Paystack's; Flutterwave needs none
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    added_by = relationship("User", foreign_keys=[added_by_id], lazy="raise")

    @property
    def masked_number(self) -> str:
        return f"{MASK} {self.last4}"

    @property
    def label(self) -> str:
        return f"{self.account_name} · {self.bank_name} {self.masked_number}"


class Payout(TimestampMixin, db.Model):
    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint(one_of("status", PayoutStatus), name="status_known"),
        CheckConstraint(one_of("gateway", PAYOUT_GATEWAYS), name="gateway_known"),
        CheckConstraint("amount_kobo > 0", name="amount_positive"),
        # Maker-checker, kept by the database too: whoever asked never approves.
        CheckConstraint("approved_by_id IS NULL OR approved_by_id <> requested_by_id", name="two_people"),
        Index("ix_payouts_status_next_check", "status", "next_check_at"),
        Index("ix_payouts_estate_created", "estate_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Ours, sent to the gateway as the transfer's reference; also the ledger entries' business reference.
    reference: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), nullable=False)
    payout_account_id: Mapped[int] = mapped_column(ForeignKey("payout_accounts.id"), nullable=False)
    gateway: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fee_kobo: Mapped[int | None] = mapped_column(BigInteger)  # the gateway's transfer fee, as it reports it
    narration: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=PayoutStatus.REQUESTED.value)

    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    requested_role: Mapped[str | None] = mapped_column(String(20))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_role: Mapped[str | None] = mapped_column(String(20))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_reason: Mapped[str | None] = mapped_column(String(255))  # why it was rejected or withdrawn

    provider_id: Mapped[str | None] = mapped_column(String(80))  # Paystack transfer_code, Flutterwave id
    send_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    checks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    gateway_message: Mapped[str | None] = mapped_column(String(255))  # what the gateway last said
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    account = relationship("PayoutAccount", lazy="raise")
    requested_by = relationship("User", foreign_keys=[requested_by_id], lazy="raise")
    approved_by = relationship("User", foreign_keys=[approved_by_id], lazy="raise")
    events = relationship("PayoutEvent", back_populates="payout", order_by="PayoutEvent.id", lazy="raise")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[PayoutStatus(self.status)]

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_PAYOUT_STATUSES


class PayoutEvent(db.Model):
    """Every change of a payout's status, with when, why and who (None: a worker or the janitor)."""

    __tablename__ = "payout_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True, nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    payout = relationship("Payout", back_populates="events")
    actor = relationship("User", lazy="raise")
