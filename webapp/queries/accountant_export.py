"""The accountant's export of an estate for a period of local days (never writes).

The ledger part is the estate wallet (``ledger.estate_account``: where residents' estate bill
payments are credited, ``ledger.pay_estate``, and refunds debited): the balance before the period,
every posting in it with its entry's memo, the other side of the entry, the payment reference and
the bill it paid, and the running balance; then the balance at the period's end. Credits are money
in, debits money out, so opening + credits - debits = closing.

The collections part is the estate bills issued in the period, per bill type: what was billed
(cancelled bills apart), what reached the estate wallet for them by the period's end (refunds
deducted, from the same postings) and what was still outstanding then.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import (
    Account,
    AccountKind,
    Bill,
    BillCategory,
    BillStatus,
    Estate,
    JournalEntry,
    Payment,
    Posting,
    User,
)
from webapp.providers.http import DISPLAY_NAMES
from webapp.services.estate_bills import TYPE_LABELS

ID_BATCH = 500  # ids per IN (...) list


@dataclass(frozen=True)
class LedgerLine:
    posted_at: datetime  # in the estate's time zone
    entry_id: int
    kind: str
    memo: str
    counterpart: str
    payment_reference: str | None
    bill_id: int | None
    amount_kobo: int  # signed: positive is a credit to the estate wallet
    balance_kobo: int  # after this line

    @property
    def debit_kobo(self) -> int:
        return -self.amount_kobo if self.amount_kobo < 0 else 0

    @property
    def credit_kobo(self) -> int:
        return self.amount_kobo if self.amount_kobo > 0 else 0


@dataclass(frozen=True)
class Collection:
    bill_type: str  # a label, or "Total"
    issued: int
    cancelled: int
    billed_kobo: int  # cancelled bills excluded
    paid_kobo: int  # reached the estate wallet by the period's end
    outstanding_kobo: int  # billed - paid


@dataclass(frozen=True)
class AccountantExport:
    estate: Estate
    date_from: date
    date_to: date
    opening_kobo: int
    lines: list[LedgerLine]
    collections: list[Collection]

    @property
    def debits_kobo(self) -> int:
        return sum(line.debit_kobo for line in self.lines)

    @property
    def credits_kobo(self) -> int:
        return sum(line.credit_kobo for line in self.lines)

    @property
    def closing_kobo(self) -> int:
        return self.opening_kobo + self.credits_kobo - self.debits_kobo

    @property
    def collections_total(self) -> Collection:
        rows = self.collections
        return Collection("Total", sum(r.issued for r in rows), sum(r.cancelled for r in rows),
                          sum(r.billed_kobo for r in rows), sum(r.paid_kobo for r in rows),
                          sum(r.outstanding_kobo for r in rows))

    @property
    def name_stem(self) -> str:
        """For file names: ``estate-3-2026-10-01-to-2026-10-31``."""
        return f"estate-{self.estate.id}-{self.date_from.isoformat()}-to-{self.date_to.isoformat()}"


def period_bounds(date_from: date, date_to: date, timezone: str) -> tuple[datetime, datetime]:
    """From local midnight of the first day to local midnight after the last one."""
    tz = ZoneInfo(timezone)
    return datetime.combine(date_from, time(), tz), datetime.combine(date_to + timedelta(days=1), time(), tz)


def last_month(today: date) -> tuple[date, date]:
    first_of_this = today.replace(day=1)
    last_day = first_of_this - timedelta(days=1)
    return last_day.replace(day=1), last_day


def export(estate: Estate, date_from: date, date_to: date) -> AccountantExport:
    """The estate's ledger and collections for the local days ``date_from`` to ``date_to``."""
    start, end = period_bounds(date_from, date_to, estate.timezone)
    # Looked up, never opened: an export is a GET and writes nothing.
    account_id = db.session.scalar(select(Account.id).where(Account.estate_id == estate.id))
    opening, lines = (0, []) if account_id is None else _ledger(account_id, start, end, ZoneInfo(estate.timezone))
    return AccountantExport(estate, date_from, date_to, opening, lines,
                            _collections(estate.id, account_id, start, end))


def _ledger(account_id: int, start: datetime, end: datetime, tz: ZoneInfo) -> tuple[int, list[LedgerLine]]:
    # int(): PostgreSQL sums BIGINT as NUMERIC.
    opening = int(db.session.scalar(select(func.coalesce(func.sum(Posting.amount_kobo), 0)).where(
        Posting.account_id == account_id, Posting.created_at < start)))
    rows = db.session.execute(
        select(Posting.entry_id, Posting.amount_kobo, Posting.created_at, JournalEntry.kind, JournalEntry.memo,
               JournalEntry.reference, Payment.bill_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(Payment, Payment.reference == JournalEntry.reference)
        .where(Posting.account_id == account_id, Posting.created_at >= start, Posting.created_at < end)
        .order_by(Posting.created_at, Posting.id)).all()
    counterparts = _counterparts(account_id, [row.entry_id for row in rows])
    running, lines = opening, []
    for row in rows:
        running += row.amount_kobo
        lines.append(LedgerLine(posted_at=row.created_at.astimezone(tz), entry_id=row.entry_id, kind=row.kind,
                                memo=row.memo, counterpart=counterparts.get(row.entry_id, ""),
                                payment_reference=row.reference, bill_id=row.bill_id,
                                amount_kobo=row.amount_kobo, balance_kobo=running))
    return opening, lines


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), ID_BATCH):
        yield ids[i:i + ID_BATCH]


def _counterparts(account_id: int, entry_ids: list[int]) -> dict[int, str]:
    """Each entry's other accounts, named for a reader: "Resident wallet: Ada Okafor"."""
    names: dict[int, list[str]] = {}
    for batch in _batches(sorted(set(entry_ids))):
        rows = db.session.execute(
            select(Posting.entry_id, Account.kind, Account.code, User.full_name, Estate.name)
            .join(Account, Account.id == Posting.account_id)
            .outerjoin(User, User.id == Account.user_id)
            .outerjoin(Estate, Estate.id == Account.estate_id)
            .where(Posting.entry_id.in_(batch), Posting.account_id != account_id)
            .order_by(Posting.entry_id, Posting.id))
        for row in rows:
            names.setdefault(row.entry_id, []).append(_account_name(row.kind, row.code, row.full_name, row.name))
    return {entry_id: "; ".join(found) for entry_id, found in names.items()}


def _account_name(kind: str, code: str | None, person: str | None, estate: str | None) -> str:
    if kind == AccountKind.RESIDENT_WALLET:
        return f"Resident wallet: {person}"
    if kind == AccountKind.ESTATE_WALLET:
        return f"Estate wallet: {estate}"
    prefix, _, gateway = (code or "").partition(":")
    if prefix == "payouts":  # the estate's payouts on their way to its bank account
        return f"Payout clearing ({DISPLAY_NAMES.get(gateway, gateway)})"
    return f"System account: {code}"


def _collections(estate_id: int, account_id: int | None, start: datetime, end: datetime) -> list[Collection]:
    bills = db.session.execute(
        select(Bill.id, Bill.bill_type, Bill.amount_kobo, Bill.status)
        .where(Bill.estate_id == estate_id, Bill.category == BillCategory.CLUSTER_MANAGED.value,
               Bill.created_at >= start, Bill.created_at < end)).all()
    paid = _paid_by(account_id, [bill.id for bill in bills], end) if account_id is not None else {}
    sums: dict[str, list[int]] = {}
    for bill in bills:
        row = sums.setdefault(bill.bill_type, [0, 0, 0, 0])
        row[0] += 1
        if bill.status == BillStatus.CANCELLED:
            row[1] += 1
            continue
        row[2] += bill.amount_kobo
        row[3] += paid.get(bill.id, 0)
    order = list(TYPE_LABELS)
    return [Collection(TYPE_LABELS.get(bill_type, bill_type), issued, cancelled, billed, received,
                       billed - received)
            for bill_type, (issued, cancelled, billed, received) in
            sorted(sums.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))]


def _paid_by(account_id: int, bill_ids: list[int], end: datetime) -> dict[int, int]:
    """What the estate wallet received for each bill before ``end``, refunds deducted."""
    paid: dict[int, int] = {}
    for batch in _batches(bill_ids):
        rows = db.session.execute(
            select(Payment.bill_id, func.sum(Posting.amount_kobo))
            .join(JournalEntry, JournalEntry.reference == Payment.reference)
            .join(Posting, Posting.entry_id == JournalEntry.id)
            .where(Payment.bill_id.in_(batch), Posting.account_id == account_id, Posting.created_at < end)
            .group_by(Payment.bill_id))
        paid.update({bill_id: int(total) for bill_id, total in rows})
    return paid
