"""A household payer's monthly limit: what they may still take from the owner's wallet this month.

The limit is enforced where the money moves: the debit (``lifecycle.debit_locked`` for one payment,
``batch`` for many) locks the owner's wallet, reads here what each payer has left, and the ledger
refuses a debit over it (``SpendingCapReached``) before anything is written. Every debit of that
wallet takes the same lock, so two payments of one payer can never both fit in what is left for
one; no other row is locked for it. ``allowance`` without the lock only warns on the pay form.

Counted: the total (amount and fee) of the payer's payments from that wallet created this calendar
month (Africa/Lagos) that hold its money: debited, submitted, unknown or succeeded.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

from webapp.extensions import db
from webapp.models import HouseholdMember, MemberRole, MembershipStatus, Payment, PaymentStatus
from webapp.models.base import utcnow
from webapp.money import naira

LAGOS = ZoneInfo("Africa/Lagos")
HOLDING_MONEY = (PaymentStatus.DEBITED.value, PaymentStatus.SUBMITTED.value, PaymentStatus.UNKNOWN.value,
                 PaymentStatus.SUCCEEDED.value)
NOT_A_MEMBER = "You are no longer a member of this household, so this payment was not made. Nothing was taken."
NOT_A_PAYER = "Your role in this household does not include paying, so this payment was not made. Nothing was taken."


@dataclass(frozen=True)
class Allowance:
    """What a member may still take from the owner's wallet this month (``remaining_kobo`` None:
    no limit, a co-owner)."""

    role: str | None  # None: not (or no longer) a member
    limit_kobo: int | None
    remaining_kobo: int | None

    def refusal(self, total_kobo: int) -> str | None:
        """Why a payment of ``total_kobo`` may not be made, in the payer's words; None if it may."""
        if self.role is None:
            return NOT_A_MEMBER
        if self.role == MemberRole.VIEWER:
            return NOT_A_PAYER
        if self.remaining_kobo is not None and total_kobo > self.remaining_kobo:
            return (f"Your household limit of {naira(self.limit_kobo)} this month is reached: "
                    f"{naira(self.remaining_kobo)} is left and this payment needs {naira(total_kobo)}. "
                    "Nothing was taken.")
        return None


def month_start(now: datetime | None = None) -> datetime:
    """The UTC instant the current calendar month began in Lagos."""
    local = (now or utcnow()).astimezone(LAGOS)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def cap_key(payment: Payment) -> tuple[int, int] | None:
    """(owner, member) for a payment a household member made from the owner's wallet, else None."""
    if payment.made_by_id is None or payment.made_by_id == payment.user_id:
        return None
    return payment.user_id, payment.made_by_id


def allowances(keys: Iterable[tuple[int, int]], now: datetime | None = None) -> dict[tuple[int, int], Allowance]:
    """The allowance of each (owner, member): two statements however many. Read it under the
    owners' wallet locks to rely on it."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    pairs = or_(*(and_(HouseholdMember.owner_id == owner, HouseholdMember.member_id == member)
                  for owner, member in keys))
    members = {(row.owner_id, row.member_id): row for row in db.session.execute(
        select(HouseholdMember.owner_id, HouseholdMember.member_id, HouseholdMember.role,
               HouseholdMember.monthly_limit_kobo)
        .where(pairs, HouseholdMember.status == MembershipStatus.ACTIVE.value))}
    payers = [key for key, row in members.items() if row.role == MemberRole.PAYER]
    spent = {}
    if payers:
        spent = {(row.user_id, row.made_by_id): row.total for row in db.session.execute(
            select(Payment.user_id, Payment.made_by_id, func.sum(Payment.amount_kobo + Payment.fee_kobo).label("total"))
            .where(or_(*(and_(Payment.user_id == owner, Payment.made_by_id == member) for owner, member in payers)),
                   Payment.status.in_(HOLDING_MONEY), Payment.created_at >= month_start(now))
            .group_by(Payment.user_id, Payment.made_by_id))}
    result = {}
    for key in keys:
        row = members.get(key)
        if row is None:
            result[key] = Allowance(None, None, 0)
        elif row.role == MemberRole.PAYER:
            left = max(0, row.monthly_limit_kobo - int(spent.get(key) or 0))
            result[key] = Allowance(row.role, row.monthly_limit_kobo, left)
        elif row.role == MemberRole.CO_OWNER:
            result[key] = Allowance(row.role, None, None)
        else:
            result[key] = Allowance(row.role, None, 0)
    return result


def allowance(owner_id: int, member_id: int) -> Allowance:
    return allowances([(owner_id, member_id)])[(owner_id, member_id)]


def caps(allowed: dict[tuple[int, int], Allowance]) -> dict[tuple[int, int], int | None]:
    """The ledger's caps (kobo left per key; None: no cap) from ``allowances``."""
    return {key: a.remaining_kobo for key, a in allowed.items()}
