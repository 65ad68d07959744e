"""Fraud rules: a payment that trips one is held for an admin's review instead of being paid.

Each threshold is a setting and is inclusive: the payment that *reaches* it is held, one below it
is not.
- Velocity: the Nth purchase on one account, or by one resident, within an hour or a day.
- Amount anomaly: at least FACTOR × the resident's median for that utility, once they have enough
  history to compare against.
- Shared number: one customer number linked by N or more different residents.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Payment, UtilityAccount
from webapp.models.base import utcnow

COUNTED = ("created", "debited", "submitted", "unknown", "succeeded", "held")


@dataclass(frozen=True)
class FraudVerdict:
    reasons: tuple[str, ...]

    @property
    def hold(self) -> bool:
        return bool(self.reasons)

    def summary(self) -> str:
        return "; ".join(self.reasons)


def _count_since(since: datetime, *where) -> int:
    return db.session.scalar(select(func.count(Payment.id)).where(
        Payment.created_at >= since, Payment.status.in_(COUNTED), *where)) or 0


def evaluate(user_id: int, account: UtilityAccount, amount_kobo: int, now: datetime | None = None) -> FraudVerdict:
    """Which rules a new payment of ``amount_kobo`` to ``account`` would trip (none = pay it)."""
    cfg = current_app.config
    now = now or utcnow()
    reasons = []
    windows = (("hour", timedelta(hours=1)), ("day", timedelta(days=1)))
    for label, span in windows:
        limit = cfg[f"FRAUD_ACCOUNT_PURCHASES_PER_{label.upper()}"]
        if limit and _count_since(now - span, Payment.utility_account_id == account.id) + 1 >= limit:
            reasons.append(f"{limit} purchases on one account within an {label}" if label == "hour"
                           else f"{limit} purchases on one account within a {label}")
        limit = cfg[f"FRAUD_RESIDENT_PURCHASES_PER_{label.upper()}"]
        if limit and _count_since(now - span, Payment.user_id == user_id) + 1 >= limit:
            reasons.append(f"{limit} purchases by one resident within an {label}" if label == "hour"
                           else f"{limit} purchases by one resident within a {label}")
    factor = cfg["FRAUD_AMOUNT_FACTOR"]
    if factor:  # the rule is off at 0: no history query
        history = db.session.scalars(
            select(Payment.amount_kobo).where(Payment.user_id == user_id, Payment.status == "succeeded",
                                              Payment.utility_type == account.provider.provider_type)
            .order_by(Payment.id.desc()).limit(cfg["FRAUD_AMOUNT_HISTORY"])
        ).all()
        if len(history) >= cfg["FRAUD_AMOUNT_MIN_HISTORY"]:
            typical = statistics.median_low(history)  # one of the amounts: integer kobo, no float
            if amount_kobo >= typical * factor:
                reasons.append(
                    f"amount is {factor}× or more the resident's usual {account.provider.provider_type} payment")
    sharers = cfg["FRAUD_SHARED_NUMBER_RESIDENTS"]
    if sharers:
        residents = db.session.scalar(select(func.count(func.distinct(UtilityAccount.user_id))).where(
            UtilityAccount.number_hash == account.number_hash, UtilityAccount.removed_at.is_(None))) or 0
        if residents >= sharers:
            reasons.append(f"the same customer number is linked by {residents} residents")
    return FraudVerdict(tuple(reasons))
