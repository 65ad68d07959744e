"""Operational metrics over a chosen period, from real data, beside the targets the project set
itself: payment success > 95 %, provider response < 2 s, error recovery > 90 %.

Everything is aggregate SQL (counts, sums, percentiles); no Python loop runs over payments. The
period is whole local days in the admin's timezone, and a payment belongs to the day it was
created. An estate admin sees their estate; a platform admin every estate (and provider calls that
belong to no payment, such as wallet funding).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, literal, or_, select

from webapp.extensions import db
from webapp.models import Payment, PaymentEvent, PaymentStatus, ProviderCallLog
from webapp.models.catalogue import utility_label

S = PaymentStatus
DEFAULT_DAYS = 30
MAX_DAYS = 366
SUCCESS_TARGET_PERCENT = 95
RECOVERY_TARGET_PERCENT = 90
LATENCY_TARGET_MS = 2000
# A refunded payment had succeeded at the provider; the refund was an admin's later decision.
SUCCEEDED = (S.SUCCEEDED.value, S.REFUNDED.value)
FINAL = tuple(s.value for s in (S.SUCCEEDED, S.REFUNDED, S.FAILED, S.CANCELLED))


# --- the period --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: date  # first local day
    end: date  # last local day (inclusive)
    timezone: str

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def midnight(self, day: date) -> datetime:
        """The UTC instant at which ``day`` begins in the period's timezone."""
        return datetime.combine(day, time(), ZoneInfo(self.timezone)).astimezone(UTC)

    @property
    def since(self) -> datetime:
        return self.midnight(self.start)

    @property
    def until(self) -> datetime:
        return self.midnight(self.end + timedelta(days=1))


def local_today(timezone: str, now: datetime | None = None) -> date:
    """The calendar day it is (or was at ``now``) in ``timezone``."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def default_period(timezone: str, today: date) -> Period:
    """The last ``DEFAULT_DAYS`` local days, ``today`` included."""
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today, timezone)


# --- figures -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    hits: int
    total: int
    target_percent: int

    @property
    def percent(self) -> Decimal | None:
        if not self.total:
            return None
        return (Decimal(self.hits * 100) / self.total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def met(self) -> bool | None:
        """Above the target (strictly), compared in integers; None without data."""
        return None if not self.total else self.hits * 100 > self.target_percent * self.total


@dataclass(frozen=True)
class Latency:
    provider: str
    calls: int
    p50_ms: float
    p95_ms: float

    @property
    def met(self) -> bool:
        return self.p95_ms < LATENCY_TARGET_MS


@dataclass(frozen=True)
class DailyVolume:
    days: list[date]
    types: list[str]
    amounts: dict[tuple[int, str], int] = field(default_factory=dict)  # (day index, type) -> kobo
    counts: dict[tuple[int, str], int] = field(default_factory=dict)

    def day_total(self, index: int) -> int:
        return sum(self.amounts.get((index, t), 0) for t in self.types)

    @property
    def total_kobo(self) -> int:
        return sum(self.amounts.values())

    @property
    def total_count(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Report:
    period: Period
    success: Rate
    recovery: Rate
    recovery_pending: int  # troubled payments not final yet (counted as not recovered)
    latencies: list[Latency]
    volume: DailyVolume

    @property
    def latency_met(self) -> bool | None:
        return None if not self.latencies else all(x.met for x in self.latencies)


def _payments_in(period: Period, estate_ids: list[int]):
    return (Payment.estate_id.in_(estate_ids), Payment.created_at >= period.since, Payment.created_at < period.until)


def success_rate(period: Period, estate_ids: list[int]) -> Rate:
    """Succeeded over final payments created in the period."""
    total, hits = db.session.execute(
        select(func.count(Payment.id), func.sum(case((Payment.status.in_(SUCCEEDED), 1), else_=0)))
        .where(*_payments_in(period, estate_ids), Payment.status.in_(FINAL))
    ).one()
    return Rate(int(hits or 0), int(total or 0), SUCCESS_TARGET_PERCENT)


def _troubled():
    """The payment went unknown, or hit a transient error after it was sent (submitted → debited)."""
    return exists().where(PaymentEvent.payment_id == Payment.id, or_(
        PaymentEvent.to_status == S.UNKNOWN.value,
        and_(PaymentEvent.from_status == S.SUBMITTED.value, PaymentEvent.to_status == S.DEBITED.value)))


def recovery_rate(period: Period, estate_ids: list[int]) -> tuple[Rate, int]:
    """Troubled payments that later succeeded, over all troubled payments (still-open ones count as
    not recovered), and how many are still open."""
    total, hits, pending = db.session.execute(
        select(func.count(Payment.id), func.sum(case((Payment.status.in_(SUCCEEDED), 1), else_=0)),
               func.sum(case((Payment.status.in_(FINAL), 0), else_=1)))
        .where(*_payments_in(period, estate_ids), _troubled())
    ).one()
    return Rate(int(hits or 0), int(total or 0), RECOVERY_TARGET_PERCENT), int(pending or 0)


def provider_latencies(period: Period, estate_ids: list[int] | None) -> list[Latency]:
    """p50/p95 of provider call latency per provider (``estate_ids=None``: every call).

    PostgreSQL computes ``percentile_cont`` itself; SQLite has no percentile function, so there
    each percentile is read as the (at most two) neighbouring latencies from a sorted, indexed
    query per provider and interpolated the same way ``percentile_cont`` does.
    """
    where = [ProviderCallLog.created_at >= period.since, ProviderCallLog.created_at < period.until]
    if estate_ids is not None:
        where.append(ProviderCallLog.payment_id.in_(select(Payment.id).where(Payment.estate_id.in_(estate_ids))))
    latency = ProviderCallLog.latency_ms
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            select(ProviderCallLog.provider, func.count(ProviderCallLog.id),
                   func.percentile_cont(0.5).within_group(latency), func.percentile_cont(0.95).within_group(latency))
            .where(*where).group_by(ProviderCallLog.provider).order_by(ProviderCallLog.provider)
        ).all()
        return [Latency(p, int(n), float(p50), float(p95)) for p, n, p50, p95 in rows]
    counts = db.session.execute(
        select(ProviderCallLog.provider, func.count(ProviderCallLog.id))
        .where(*where).group_by(ProviderCallLog.provider).order_by(ProviderCallLog.provider)
    ).all()

    def percentile(provider: str, n: int, fraction: Decimal) -> float:
        rank = fraction * (n - 1)
        low = math.floor(rank)
        values = db.session.scalars(
            select(latency).where(*where, ProviderCallLog.provider == provider)
            .order_by(latency).limit(2).offset(low)).all()
        upper = values[1] if len(values) > 1 else values[0]
        return float(values[0] + (upper - values[0]) * (rank - low))

    return [Latency(p, int(n), percentile(p, n, Decimal("0.5")), percentile(p, n, Decimal("0.95")))
            for p, n in counts]


def _day_of(column, ends: list[datetime], first: int, stop: int):
    """CASE giving the index of the local day a timestamp falls in: a binary search over the day
    ends (about log2(days) comparisons a row), so grouping is by local day on both databases."""
    if stop - first == 1:
        return literal(first)
    middle = (first + stop) // 2
    return case((column < ends[middle - 1], _day_of(column, ends, first, middle)),
                else_=_day_of(column, ends, middle, stop))


def daily_volume(period: Period, estate_ids: list[int]) -> DailyVolume:
    """Succeeded payments (amount, without fees) per local day and utility type, estate bills as
    "estate_bill". A refunded payment is not volume: its money went back to the wallet."""
    days = period.days
    ends = [period.midnight(d + timedelta(days=1)) for d in days]
    rows = (
        select(_day_of(Payment.created_at, ends, 0, len(days)).label("day"),
               func.coalesce(Payment.utility_type, "estate_bill").label("utility_type"),
               Payment.amount_kobo.label("amount"))
        .where(*_payments_in(period, estate_ids), Payment.status == S.SUCCEEDED.value)
        .subquery()
    )
    # Grouping the subquery's columns keeps PostgreSQL from comparing two copies of the CASE.
    result = db.session.execute(
        select(rows.c.day, rows.c.utility_type, func.sum(rows.c.amount), func.count())
        .group_by(rows.c.day, rows.c.utility_type)
    ).all()
    amounts = {(int(day), kind): int(kobo) for day, kind, kobo, _ in result}  # int(): PostgreSQL sums as NUMERIC
    counts = {(int(day), kind): int(n) for day, kind, _, n in result}
    present = {kind for _, kind in amounts}
    order = ["electricity", "water", "internet", "cable_tv", "estate_bill"]
    types = [t for t in order if t in present] + sorted(present - set(order))
    return DailyVolume(days=days, types=types, amounts=amounts, counts=counts)


def report(period: Period, estate_ids: list[int], all_calls: bool = False) -> Report:
    """Every figure on the metrics page. ``all_calls`` (platform admins) also counts provider calls
    that belong to no payment."""
    recovery, pending = recovery_rate(period, estate_ids)
    return Report(
        period=period, success=success_rate(period, estate_ids), recovery=recovery, recovery_pending=pending,
        latencies=provider_latencies(period, None if all_calls else estate_ids),
        volume=daily_volume(period, estate_ids),
    )


def type_label(kind: str) -> str:
    """A payment's kind: its utility type, or the estate bills paid from the wallet."""
    return "Estate bills" if kind == "estate_bill" else utility_label(kind)
