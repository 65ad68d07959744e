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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, select

from webapp.extensions import db
from webapp.models import Payment, UtilityAccount
from webapp.models.base import utcnow

COUNTED = ("created", "debited", "submitted", "unknown", "succeeded", "held")
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WINDOWS = ("hour", "day")


@dataclass(frozen=True)
class FraudVerdict:
    reasons: tuple[str, ...]

    @property
    def hold(self) -> bool:
        return bool(self.reasons)

    def summary(self) -> str:
        return "; ".join(self.reasons)


def evaluate(user_id: int, account: UtilityAccount, amount_kobo: int, now: datetime | None = None) -> FraudVerdict:
    """Which rules a new payment of ``amount_kobo`` to ``account`` would trip (none = pay it)."""
    return evaluate_many([(user_id, account, amount_kobo)], now)[0]


def evaluate_many(payments: Sequence[tuple[int, UtilityAccount | None, int]],
                  now: datetime | None = None) -> list[FraudVerdict]:
    """The verdicts of new payments ``(user_id, account, amount_kobo)`` about to be created in this
    order, in a few queries for all: each is judged as if the ones before it were created already
    (they count towards the velocity rules). One without an account (an estate bill) is not judged,
    but counts as a purchase by its resident."""
    cfg = current_app.config
    now = now or utcnow()
    judged = [(user_id, account, amount) for user_id, account, amount in payments if account is not None]
    if not judged:
        return [FraudVerdict(())] * len(payments)
    by_account = _recent_purchases(Payment.utility_account_id, {account.id for _, account, _ in judged}, now,
                                   "ACCOUNT")
    by_resident = _recent_purchases(Payment.user_id, {user_id for user_id, _, _ in payments}, now, "RESIDENT")
    factor = cfg["FRAUD_AMOUNT_FACTOR"]
    histories = _succeeded_amounts({(user_id, account.provider.provider_type) for user_id, account, _ in judged},
                                   cfg["FRAUD_AMOUNT_HISTORY"]) if factor else {}
    sharers = cfg["FRAUD_SHARED_NUMBER_RESIDENTS"]
    residents_by_number = _residents_by_number({account.number_hash for _, account, _ in judged}) if sharers else {}

    verdicts = []
    for user_id, account, amount_kobo in payments:
        reasons = []
        if account is not None:
            for label in WINDOWS:
                limit = cfg[f"FRAUD_ACCOUNT_PURCHASES_PER_{label.upper()}"]
                if limit and by_account[account.id, label] + 1 >= limit:
                    reasons.append(f"{limit} purchases on one account within an {label}" if label == "hour"
                                   else f"{limit} purchases on one account within a {label}")
                limit = cfg[f"FRAUD_RESIDENT_PURCHASES_PER_{label.upper()}"]
                if limit and by_resident[user_id, label] + 1 >= limit:
                    reasons.append(f"{limit} purchases by one resident within an {label}" if label == "hour"
                                   else f"{limit} purchases by one resident within a {label}")
            kind = account.provider.provider_type
            history = histories.get((user_id, kind), [])
            if factor and len(history) >= cfg["FRAUD_AMOUNT_MIN_HISTORY"]:
                typical = statistics.median_low(history)  # one of the amounts: integer kobo, no float
                if amount_kobo >= typical * factor:
                    reasons.append(f"amount is {factor}× or more the resident's usual {kind} payment")
            residents = residents_by_number.get(account.number_hash, 0)
            if sharers and residents >= sharers:
                reasons.append(f"the same customer number is linked by {residents} residents")
            for label in WINDOWS:
                by_account[account.id, label] += 1  # this payment counts for the ones after it
        for label in WINDOWS:
            by_resident[user_id, label] += 1
        verdicts.append(FraudVerdict(tuple(reasons)))
    return verdicts


def _recent_purchases(column, ids: set[int], now: datetime, scope: str) -> Counter:
    """Purchases in the last hour and day per ``column`` value: ``(id, "hour"|"day") -> count``;
    none read when both of the scope's velocity rules are off."""
    counts: Counter = Counter()
    cfg = current_app.config
    if not any(cfg[f"FRAUD_{scope}_PURCHASES_PER_{label.upper()}"] for label in WINDOWS):
        return counts
    rows = db.session.execute(
        select(column, func.sum(case((Payment.created_at >= now - HOUR, 1), else_=0)), func.count(Payment.id))
        .where(column.in_(ids), Payment.created_at >= now - DAY, Payment.status.in_(COUNTED))
        .group_by(column)
    ).all()
    for key, last_hour, last_day in rows:
        counts[key, "hour"], counts[key, "day"] = int(last_hour or 0), int(last_day)
    return counts


def _succeeded_amounts(pairs: Iterable[tuple[int, str]], limit: int) -> dict[tuple[int, str], list[int]]:
    """The latest ``limit`` succeeded amounts of each (resident, utility type)."""
    pairs = set(pairs)
    # Ranked within (resident, type, status) and filtered after: with the status in the inner WHERE,
    # SQLite would read every succeeded payment by the status index instead of these residents'.
    ranked = (
        select(Payment.user_id, Payment.utility_type, Payment.status, Payment.amount_kobo,
               func.row_number().over(partition_by=(Payment.user_id, Payment.utility_type, Payment.status),
                                      order_by=Payment.id.desc()).label("newest"))
        .where(Payment.user_id.in_({user_id for user_id, _ in pairs}),
               Payment.utility_type.in_({kind for _, kind in pairs}))
        .subquery()
    )
    amounts: dict[tuple[int, str], list[int]] = {}
    for user_id, kind, amount in db.session.execute(
            select(ranked.c.user_id, ranked.c.utility_type, ranked.c.amount_kobo)
            .where(ranked.c.status == "succeeded", ranked.c.newest <= limit)):
        if (user_id, kind) in pairs:
            amounts.setdefault((user_id, kind), []).append(amount)
    return amounts


def _residents_by_number(number_hashes: set[str]) -> dict[str, int]:
    """How many different residents link each customer number (by its lookup hash)."""
    return dict(db.session.execute(
        select(UtilityAccount.number_hash, func.count(func.distinct(UtilityAccount.user_id)))
        .where(UtilityAccount.number_hash.in_(number_hashes), UtilityAccount.removed_at.is_(None))
        .group_by(UtilityAccount.number_hash)
    ).all())
