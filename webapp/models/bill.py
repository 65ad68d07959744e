"""Bills: estate bills issued by admins and utility bills a resident owes a provider."""
from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import TimestampMixin, one_of


class BillType(enum.StrEnum):
    SECURITY = "security"
    MAINTENANCE = "maintenance"
    SERVICE_CHARGE = "service_charge"
    WASTE_MANAGEMENT = "waste_management"
    ELECTRICITY_UTILITY = "electricity_utility"
    WATER_UTILITY = "water_utility"
    INTERNET_UTILITY = "internet_utility"
    CABLE_TV_UTILITY = "cable_tv_utility"
    OTHER = "other"


class BillCategory(enum.StrEnum):
    CLUSTER_MANAGED = "cluster_managed"  # issued by the estate, paid into the estate wallet
    USER_MANAGED = "user_managed"  # owed to a utility provider, paid through a bills provider


class BillStatus(enum.StrEnum):
    PENDING = "pending"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


# A bill in one of these still owes money: it is listed as due, can be paid and can be automated.
OPEN_BILL_STATUSES = (BillStatus.PENDING.value, BillStatus.PARTIALLY_PAID.value, BillStatus.OVERDUE.value)


CLUSTER_BILL_TYPES = (BillType.SECURITY, BillType.MAINTENANCE, BillType.SERVICE_CHARGE, BillType.WASTE_MANAGEMENT)


class Bill(TimestampMixin, db.Model):
    __tablename__ = "bills"
    __table_args__ = (
        CheckConstraint(one_of("bill_type", BillType), name="bill_type_known"),
        CheckConstraint(one_of("category", BillCategory), name="category_known"),
        CheckConstraint(one_of("status", BillStatus), name="status_known"),
        CheckConstraint("amount_kobo > 0", name="amount_positive"),
        CheckConstraint("amount_paid_kobo >= 0 AND amount_paid_kobo <= amount_kobo", name="paid_within_amount"),
        Index("ix_bills_user_status", "user_id", "status"),
        Index("ix_bills_estate_due", "estate_id", "due_date"),
        # A plan bills each resident once per period, however often (or however many at once) its job runs.
        UniqueConstraint("plan_id", "plan_period", "user_id", name="uq_bills_plan_period_user"),
        CheckConstraint("(plan_id IS NULL) = (plan_period IS NULL)", name="plan_with_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    bill_type: Mapped[str] = mapped_column(String(32), nullable=False)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_paid_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=BillStatus.PENDING.value)
    utility_provider_id: Mapped[int | None] = mapped_column(ForeignKey("utility_providers.id"))
    utility_account_id: Mapped[int | None] = mapped_column(ForeignKey("utility_accounts.id"))
    # "metadata" is reserved on declarative classes, so the attribute is named apart from its column.
    details: Mapped[dict] = mapped_column("metadata", JSON, nullable=False, default=dict)
    is_automated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("bill_plans.id"))
    plan_period: Mapped[date | None] = mapped_column(Date)  # first day of the month the plan issued it for

    utility_provider = relationship("UtilityProvider")
    utility_account = relationship("UtilityAccount")
    user = relationship("User", foreign_keys=[user_id])

    @property
    def outstanding_kobo(self) -> int:
        return self.amount_kobo - self.amount_paid_kobo

    def apply_payment(self, amount_kobo: int) -> None:
        """Record money received against this bill and move its stored status."""
        if amount_kobo <= 0 or amount_kobo > self.outstanding_kobo:
            raise ValueError("payment must be positive and at most the outstanding amount")
        self.amount_paid_kobo += amount_kobo
        if self.amount_paid_kobo == self.amount_kobo:
            self.status = BillStatus.PAID.value
        elif self.status != BillStatus.OVERDUE:  # part of an overdue bill leaves it overdue
            self.status = BillStatus.PARTIALLY_PAID.value
