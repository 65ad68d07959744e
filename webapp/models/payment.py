"""One ``Payment`` row per purchase attempt, its timeline and its provider calls (DESIGN §4)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.infra.crypto import mask
from webapp.models.base import EncryptedString, TimestampMixin, UTCDateTime, one_of, utcnow


class PaymentStatus(enum.StrEnum):
    CREATED = "created"
    HELD = "held"  # tripped a fraud rule; waits for an admin
    DEBITED = "debited"
    SUBMITTED = "submitted"  # committed before the HTTP call, so a crash leaves evidence
    UNKNOWN = "unknown"  # sent, outcome not known: requeried, never resent under a new reference
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # succeeded, then refunded by an admin (with a reason)


FINAL_STATUSES = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED,
                            PaymentStatus.REFUNDED})

# The only moves the state machine allows (DESIGN §4).
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset({PaymentStatus.DEBITED, PaymentStatus.HELD, PaymentStatus.CANCELLED,
                                      PaymentStatus.FAILED}),
    PaymentStatus.HELD: frozenset({PaymentStatus.CREATED, PaymentStatus.CANCELLED}),
    # debited -> succeeded: an internal transfer (an estate bill) is complete once debited.
    PaymentStatus.DEBITED: frozenset({PaymentStatus.SUBMITTED, PaymentStatus.FAILED, PaymentStatus.SUCCEEDED}),
    # submitted -> debited: a transient error before the provider accepted it; safe to resend.
    PaymentStatus.SUBMITTED: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.UNKNOWN,
                                        PaymentStatus.DEBITED}),
    # unknown -> submitted: the provider said it has no record, so the same reference is resent.
    PaymentStatus.UNKNOWN: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.SUBMITTED}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
}


class PaymentKind(enum.StrEnum):
    UTILITY = "utility"
    ESTATE_BILL = "estate_bill"



class Payment(TimestampMixin, db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(one_of("status", PaymentStatus), name="status_known"),
        CheckConstraint(one_of("kind", PaymentKind), name="kind_known"),
        CheckConstraint("amount_kobo > 0 AND fee_kobo >= 0", name="amounts_valid"),
        Index("ix_payments_user_created", "user_id", "created_at"),
        # The dashboard's version (newest change per resident) reads one index entry.
        Index("ix_payments_user_updated", "user_id", "updated_at"),
        Index("ix_payments_status_requery", "status", "next_check_at"),
        Index("ix_payments_estate_status", "estate_id", "status"),
        # A household payer's spending this month (their monthly limit).
        Index("ix_payments_made_by_created", "made_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Ours, unique; also the provider's reference/request_id and the RQ job id.
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    # Who asked for it: the wallet's owner, or a member of their household paying from it (the
    # payment stays the owner's: ``user_id`` is whose wallet it debits). NULL: autopay, or before
    # households existed.
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default=PaymentKind.UTILITY.value)
    utility_account_id: Mapped[int | None] = mapped_column(ForeignKey("utility_accounts.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("utility_providers.id"))
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"), index=True)
    api_provider: Mapped[str | None] = mapped_column(String(20))
    utility_type: Mapped[str | None] = mapped_column(String(20))
    amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fee_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PaymentStatus.CREATED.value)
    # Why a payment failed, was held or cancelled, in plain words for the resident.
    status_reason: Mapped[str | None] = mapped_column(String(255))
    error_type: Mapped[str | None] = mapped_column(String(40))
    provider_reference: Mapped[str | None] = mapped_column(String(120))
    # Electricity tokens are money once bought: encrypted at rest like customer numbers.
    token: Mapped[str | None] = mapped_column(EncryptedString())
    units: Mapped[str | None] = mapped_column(String(32))
    # A meter due a key change takes KCT1, then KCT2, then ``token`` (VTpass ``kct1``/``kct2``);
    # encrypted like the token. When the resident marked the token loaded (the token vault).
    key_change_token_1: Mapped[str | None] = mapped_column(EncryptedString())
    key_change_token_2: Mapped[str | None] = mapped_column(EncryptedString())
    token_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purchase_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status_checks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # When the janitor should next look at this payment (requery or drive forward).
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Status calls that got no answer at all (timeout, 5xx, unreadable) since the provider last
    # answered: how many in a row, since when, and when admins and the resident were told.
    status_call_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    no_answer_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    no_answer_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A prepaid purchase that succeeded without its token: when the janitor next asks the provider
    # for it (set only while the token is outstanding), how often it asked, when it arrived, and
    # when admins were told it had not come.
    token_next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    token_checks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    token_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The RQ job that buys it when that is a batch's (``batch-<first reference>``); a lone
    # payment's job id is its reference. The relay uses it to tell a waiting job from a lost one.
    job_id: Mapped[str | None] = mapped_column(String(80))
    # One payment per form submission (double-click safe) and per automation occurrence.
    submit_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    occurrence_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="one_time")
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    user = relationship("User", foreign_keys=[user_id])
    made_by = relationship("User", foreign_keys=[made_by_id])
    utility_account = relationship("UtilityAccount")
    provider = relationship("UtilityProvider")
    bill = relationship("Bill")
    events = relationship("PaymentEvent", order_by="PaymentEvent.id", lazy="selectin",
                          back_populates="payment", viewonly=True)
    provider_refs = relationship("ProviderReference", order_by="ProviderReference.id", lazy="select",
                                 back_populates="payment", viewonly=True)

    @property
    def total_kobo(self) -> int:
        return self.amount_kobo + self.fee_kobo

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def bill_title(self) -> str | None:
        """The estate bill this payment paid, by its title (lists load it with the payment)."""
        return self.bill.title if self.bill_id is not None and self.bill is not None else None

    @property
    def token_on_its_way(self) -> bool:
        """Paid, and the provider has not given the token yet (the janitor keeps asking)."""
        return self.status == PaymentStatus.SUCCEEDED and not self.token and self.token_next_check_at is not None

    @property
    def token_groups(self) -> list[str]:
        """The token in groups of four digits, as meters expect it to be typed."""
        if not self.token:
            return []
        return [self.token[i:i + 4] for i in range(0, len(self.token), 4)]

    @property
    def key_change_tokens(self) -> list[str]:
        """KCT1 then KCT2 (those the provider gave), the order they are typed before the token."""
        return [kct for kct in (self.key_change_token_1, self.key_change_token_2) if kct]

    @key_change_tokens.setter
    def key_change_tokens(self, tokens) -> None:
        tokens = list(tokens or ())[:2]
        self.key_change_token_1, self.key_change_token_2 = (tokens + [None, None])[:2]

    @property
    def key_change_token_groups(self) -> list[list[str]]:
        """Each key change token in groups of four digits, KCT1 first."""
        return [[kct[i:i + 4] for i in range(0, len(kct), 4)] for kct in self.key_change_tokens]

    @property
    def masked_token(self) -> str:
        """The token as admins see it (``•••• 4021``): a token is money, only its owner sees it whole."""
        return mask(self.token)


class ProviderRefKind(enum.StrEnum):
    REQUEST_ID = "request_id"  # what we sent as the purchase's key (VTpass request_id)
    TX_REF = "tx_ref"  # Flutterwave's bill reference ("CF-FLYAPI-..."), the key of its status path
    FLW_REF = "flw_ref"  # Flutterwave's network reference
    TRANSACTION_ID = "transaction_id"  # VTpass content.transactions.transactionId


class ProviderReference(db.Model):
    """Every reference a purchase is known by at its provider.

    Our own ``Payment.reference`` is the first request_id. A VTpass purchase resent on a later
    Lagos day goes out under a new request_id (``attempt`` says which purchase attempt first used
    it); Flutterwave answers with its own ``tx_ref`` and ``flw_ref``. Status queries use the key
    the provider's status endpoint takes, and reconciliation matches on all of them.
    """

    __tablename__ = "payment_provider_refs"
    __table_args__ = (
        UniqueConstraint("api_provider", "kind", "value", name="uq_provider_ref"),
        CheckConstraint(one_of("kind", ProviderRefKind), name="provider_ref_kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True, nullable=False)
    api_provider: Mapped[str] = mapped_column(String(20), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    value: Mapped[str] = mapped_column(String(120), nullable=False)
    attempt: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    payment = relationship("Payment", back_populates="provider_refs")


class PaymentEvent(db.Model):
    """The timeline: every state change with its reason and who caused it."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True, nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    actor: Mapped[str] = mapped_column(String(60), nullable=False, default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    payment = relationship("Payment", back_populates="events")


class ProviderCallLog(db.Model):
    """Every HTTP call to a provider: operation, latency, status and a redacted body."""

    __tablename__ = "provider_calls"
    __table_args__ = (Index("ix_provider_calls_provider_created", "provider", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    operation: Mapped[str] = mapped_column(String(40), nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    url: Mapped[str] = mapped_column(String(500), nullable=False)
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    request_body: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class AdminAlert(db.Model):
    """Something an estate admin must look at (e.g. a payment unknown for over 24 h)."""

    __tablename__ = "admin_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))
    message: Mapped[str] = mapped_column(String(255), nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    # What a person needs to resolve it by hand: references, amounts, what the provider said.
    details: Mapped[dict | None] = mapped_column(JSON)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class ReconciliationRun(db.Model):
    """One provider's record of one Lagos day compared with ours (``flask payments reconcile``).

    Totals are kept per estate in ``by_estate`` (``{estate_id: {"ours_count", "ours_kobo",
    "theirs_count", "theirs_kobo", "mismatches"}}``) so an estate admin sees only their estate.
    """

    __tablename__ = "reconciliation_runs"
    __table_args__ = (UniqueConstraint("api_provider", "day", name="uq_reconciliation_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_provider: Mapped[str] = mapped_column(String(20), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    ours_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ours_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    theirs_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    theirs_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    mismatch_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    by_estate: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class ReconciliationMismatch(db.Model):
    """One disagreement found by a reconciliation run (each is also one admin alert)."""

    __tablename__ = "reconciliation_mismatches"
    __table_args__ = (UniqueConstraint("run_id", "kind", "reference", name="uq_reconciliation_mismatch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True, nullable=False)
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estates.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    # provider_succeeded_we_refunded | no_provider_record | amount_differs | unknown_to_us
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    reference: Mapped[str] = mapped_column(String(120), nullable=False)
    provider_refs: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    our_amount_kobo: Mapped[int | None] = mapped_column(BigInteger)
    provider_amount_kobo: Mapped[int | None] = mapped_column(BigInteger)
    our_status: Mapped[str | None] = mapped_column(String(16))
    provider_status: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    run = relationship("ReconciliationRun")
