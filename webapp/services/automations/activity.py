"""What autopay did for a resident in a calendar month (their time zone), read from what the sweep
already records: each automation occurrence (paid, waiting, skipped, missed, stopped by a limit,
with its reason) and the payment it made, if any (its own status and reason: held for review,
failed, refunded...).

A run belongs to the month it happened in: when the payment was made if there is one (a run that
waited for money and was paid on a later try counts when it was paid), else when it was due.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Payment, PaymentStatus
from webapp.models.automation import AutomationOccurrence, OccurrenceStatus
from webapp.models.base import UTCDateTime

Occ = OccurrenceStatus
P = PaymentStatus

# What became of a run, as the page and the monthly summary count it.
PAID, IN_PROGRESS, HELD, FAILED, REFUNDED, WAITING, SKIPPED = (
    "paid", "in_progress", "held", "failed", "refunded", "waiting", "skipped")
OUTCOME_LABELS = {PAID: "Paid", IN_PROGRESS: "Being paid", HELD: "Held for review", FAILED: "Not paid",
                  REFUNDED: "Refunded", WAITING: "Waiting", SKIPPED: "Skipped"}
# The badge classes of the layout's payment statuses.
OUTCOME_BADGES = {PAID: "succeeded", IN_PROGRESS: "pending", HELD: "held", FAILED: "failed",
                  REFUNDED: "cancelled", WAITING: "pending", SKIPPED: "cancelled"}
OCCURRENCE_LABELS = {Occ.SKIPPED: "Skipped", Occ.MISSED: "Missed", Occ.LIMIT_REACHED: "Limit reached",
                     Occ.WAITING: "Waiting"}
HELD_WORDS = "Held for an estate admin to review before it is paid"


def outcome_of(occurrence_status: str, payment_status: str | None) -> str:
    if payment_status is None:
        return WAITING if occurrence_status == Occ.WAITING else SKIPPED
    return {P.SUCCEEDED: PAID, P.HELD: HELD, P.FAILED: FAILED, P.CANCELLED: FAILED,
            P.REFUNDED: REFUNDED}.get(payment_status, IN_PROGRESS)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def containing(cls, moment: datetime, timezone: str) -> Month:
        local = moment.astimezone(ZoneInfo(timezone))
        return cls(local.year, local.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ValueError otherwise."""
        year, sep, month = text.partition("-")
        if not (sep and len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()):
            raise ValueError(text)
        date(int(year), int(month), 1)  # raises ValueError for month 13
        return cls(int(year), int(month))

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def following(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def param(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return date(self.year, self.month, 1).strftime("%B %Y")

    def start_utc(self, timezone: str) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=ZoneInfo(timezone)).astimezone(UTC)

    def window(self, timezone: str) -> tuple[datetime, datetime]:
        """[start, end) of the month in ``timezone``, as UTC instants."""
        return self.start_utc(timezone), self.following.start_utc(timezone)


def happened_at():
    """When a run happened: its payment's creation, else its due time."""
    return func.coalesce(Payment.created_at, AutomationOccurrence.scheduled_for, type_=UTCDateTime())


def runs_between(start: datetime, end: datetime):
    """The occurrences (with their payments joined, when any) that happened in [start, end)."""
    when = happened_at()
    return (select(AutomationOccurrence)
            .outerjoin(Payment, Payment.id == AutomationOccurrence.payment_id)
            .where(when >= start, when < end))


@dataclass
class MonthTotals:
    paid_kobo: int = 0  # what the succeeded payments paid for (the bill amounts, fees aside)
    made: int = 0  # payments autopay made, whatever became of them
    held: int = 0
    skipped: int = 0  # skipped, missed or stopped by a limit
    failed: int = 0
    waiting: int = 0
    refunded: int = 0
    spent_by_type: dict[str, int] = field(default_factory=dict)  # succeeded payments by utility type

    @property
    def any(self) -> bool:
        return bool(self.made or self.skipped or self.waiting)

    def add(self, outcome: str, count: int, utility_type: str | None, amount_kobo: int) -> None:
        self.made += count if outcome not in (WAITING, SKIPPED) else 0
        if outcome == PAID:
            self.paid_kobo += amount_kobo
            kind = utility_type or "other"
            self.spent_by_type[kind] = self.spent_by_type.get(kind, 0) + amount_kobo
        elif outcome in (HELD, SKIPPED, FAILED, WAITING, REFUNDED):
            setattr(self, outcome, getattr(self, outcome) + count)


def totals_of(user_ids: Iterable[int], start: datetime, end: datetime) -> dict[int, MonthTotals]:
    """Each resident's totals for runs that happened in [start, end), in one grouped query."""
    totals: dict[int, MonthTotals] = defaultdict(MonthTotals)
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return totals
    when = happened_at()
    rows = db.session.execute(
        select(AutomationOccurrence.user_id, AutomationOccurrence.status, Payment.status, Payment.utility_type,
               func.count(), func.coalesce(func.sum(Payment.amount_kobo), 0))
        .select_from(AutomationOccurrence)
        .outerjoin(Payment, Payment.id == AutomationOccurrence.payment_id)
        .where(AutomationOccurrence.user_id.in_(user_ids), when >= start, when < end)
        .group_by(AutomationOccurrence.user_id, AutomationOccurrence.status, Payment.status, Payment.utility_type)
    ).all()
    for user_id, occurrence_status, payment_status, utility_type, count, amount in rows:
        totals[user_id].add(outcome_of(occurrence_status, payment_status), int(count), utility_type, int(amount))
    return totals


def month_totals(user_id: int, timezone: str, month: Month) -> MonthTotals:
    return totals_of([user_id], *month.window(timezone))[user_id]
