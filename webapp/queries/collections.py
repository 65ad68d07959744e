"""An estate's collections (read only): what its bills due in a month billed, collected and still
owe, and who is behind (defaulters: residents with bills overdue today, past any plan's grace
period, as ``estate_bills.mark_overdue`` marks them).

Days overdue count from the oldest overdue bill's due date, in the estate's time zone.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, select

from webapp.extensions import db
from webapp.models import Bill, BillCategory, BillStatus, User
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.money import naira_plain
from webapp.queries.history import safe_cell

CSV_HEADER = ["Resident", "Email", "Overdue bills", "Outstanding (NGN)", "Oldest due date", "Days overdue"]


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@dataclass(frozen=True)
class PeriodTotals:
    bills: int
    billed_kobo: int  # cancelled bills excluded
    collected_kobo: int
    outstanding_kobo: int  # of open bills


@dataclass(frozen=True)
class Defaulter:
    user_id: int
    full_name: str
    email: str
    bills: int
    outstanding_kobo: int
    oldest_due: date
    days_overdue: int


def _estate_bills(estate_id: int, bill_type: str | None):
    query = select(Bill).where(Bill.estate_id == estate_id, Bill.category == BillCategory.CLUSTER_MANAGED.value)
    return query.where(Bill.bill_type == bill_type) if bill_type else query


def period_totals(estate_id: int, month: date, bill_type: str | None = None) -> PeriodTotals:
    """Totals of the estate's bills due in ``month`` (its first day)."""
    bills = _estate_bills(estate_id, bill_type).where(
        Bill.due_date >= month, Bill.due_date < next_month(month), Bill.status != BillStatus.CANCELLED.value
    ).subquery()
    row = db.session.execute(select(
        func.count(),
        func.coalesce(func.sum(bills.c.amount_kobo), 0),
        func.coalesce(func.sum(bills.c.amount_paid_kobo), 0),
        func.coalesce(func.sum(case((bills.c.status.in_(OPEN_BILL_STATUSES),
                                     bills.c.amount_kobo - bills.c.amount_paid_kobo), else_=0)), 0),
    )).one()
    return PeriodTotals(*(int(value) for value in row))  # PostgreSQL sums BIGINT as NUMERIC


def defaulters(estate_id: int, today: date, *, through: date, min_days: int = 0,
               bill_type: str | None = None) -> list[Defaulter]:
    """Residents with bills overdue today that were due before ``through``, most owed first; only
    those whose oldest overdue bill is at least ``min_days`` past its due date."""
    bills = _estate_bills(estate_id, bill_type).where(Bill.status == BillStatus.OVERDUE.value,
                                                      Bill.due_date < through).subquery()
    oldest = func.min(bills.c.due_date)
    owed = func.sum(bills.c.amount_kobo - bills.c.amount_paid_kobo)
    rows = db.session.execute(
        select(User.id, User.full_name, User.email, func.count(), owed, oldest)
        .join(bills, bills.c.user_id == User.id)
        .group_by(User.id, User.full_name, User.email)
        .having(oldest <= today - timedelta(days=min_days))
        .order_by(owed.desc(), User.full_name, User.id)
    ).all()
    return [Defaulter(user_id, name, email, int(count), int(kobo), due, (today - due).days)
            for user_id, name, email, count, kobo, due in rows]


def defaulters_csv_rows(estate_id: int, today: date, *, through: date, min_days: int = 0,
                        bill_type: str | None = None) -> Iterator[list[str]]:
    """The header, then one row per defaulter (the page's filters). Takes plain values: a streamed
    download runs this after the request's session has closed."""
    yield CSV_HEADER
    for row in defaulters(estate_id, today, through=through, min_days=min_days, bill_type=bill_type):
        yield [safe_cell(row.full_name), safe_cell(row.email), str(row.bills), naira_plain(row.outstanding_kobo),
               row.oldest_due.isoformat(), str(row.days_overdue)]
