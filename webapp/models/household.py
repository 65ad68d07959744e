"""Households: a resident (the owner) shares their wallet and linked accounts with members."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import TimestampMixin, UTCDateTime, one_of, utcnow


class MemberRole(enum.StrEnum):
    VIEWER = "viewer"      # sees the household's accounts, payments and tokens
    PAYER = "payer"        # also pays and manages automations, within a monthly limit
    CO_OWNER = "co_owner"  # everything the owner can, except removing the owner


class MembershipStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    REMOVED = "removed"


ROLE_LABELS = {MemberRole.VIEWER: "Viewer", MemberRole.PAYER: "Payer", MemberRole.CO_OWNER: "Co-owner"}


class HouseholdMember(TimestampMixin, db.Model):
    """One invitation to the owner's household, and the membership it becomes once accepted.

    A removed membership is kept (status ``removed``), so the payments its member made still say who
    made them. Only the SHA-256 of the invite token is stored; the link carries the token itself.
    """

    __tablename__ = "household_members"
    __table_args__ = (
        CheckConstraint(one_of("role", MemberRole), name="role_known"),
        CheckConstraint(one_of("status", MembershipStatus), name="status_known"),
        # A payer always has a limit (zero: nothing this month); other roles none.
        CheckConstraint("(role = 'payer') = (monthly_limit_kobo IS NOT NULL) AND "
                        "(monthly_limit_kobo IS NULL OR monthly_limit_kobo >= 0)", name="payer_limit"),
        CheckConstraint("member_id IS NULL OR member_id <> owner_id", name="not_own_member"),
        CheckConstraint("status <> 'active' OR member_id IS NOT NULL", name="active_has_member"),
        # One live invitation or membership per address in a household.
        Index("uq_household_members_live_email", "owner_id", "invited_email", unique=True,
              sqlite_where=text("status <> 'removed'"), postgresql_where=text("status <> 'removed'")),
        Index("ix_household_members_member_status", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    invited_email: Mapped[str] = mapped_column(String(254), nullable=False)  # lower-cased
    role: Mapped[str] = mapped_column(String(10), nullable=False)
    monthly_limit_kobo: Mapped[int | None] = mapped_column(BigInteger)
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=MembershipStatus.INVITED.value)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner = relationship("User", foreign_keys=[owner_id])
    member = relationship("User", foreign_keys=[member_id])

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[MemberRole(self.role)]

    def __repr__(self) -> str:
        return f"<HouseholdMember {self.id} owner={self.owner_id} {self.invited_email} {self.role} {self.status}>"
