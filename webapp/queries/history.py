"""A resident's payment history: filtered pages, one payment's detail, CSV rows, monthly spend.

Everything here is read-only and scoped to one user. List queries load each payment's account in
the same statement and skip the payment's timeline, so the number of statements a page costs does
not grow with the number of payments (tests/test_query_counts.py holds that).
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, bindparam, case, func, literal, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from webapp.extensions import db
from webapp.models import (
    Account,
    Bill,
    Estate,
    JournalEntry,
    Notification,
    Payment,
    PaymentStatus,
    ProviderCallLog,
    User,
    UtilityAccount,
    UtilityProvider,
)
from webapp.models.catalogue import UTILITY_LABELS, UTILITY_TYPES
from webapp.money import naira_plain
from webapp.services import access, ledger

PER_PAGE = 20
CSV_BATCH = 500
SPEND_MONTHS = 12

STATUS_LABELS = {
    PaymentStatus.CREATED: "Queued",
    PaymentStatus.HELD: "On hold",
    PaymentStatus.DEBITED: "Paid from wallet",
    PaymentStatus.SUBMITTED: "Sent to provider",
    PaymentStatus.UNKNOWN: "Confirming with provider",
    PaymentStatus.SUCCEEDED: "Succeeded",
    PaymentStatus.FAILED: "Failed",
    PaymentStatus.CANCELLED: "Cancelled",
}
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --- filters -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryFilters:
    """What the resident asked to see. Dates are calendar days in the resident's timezone."""

    account_id: int | None = None
    utility_type: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as URL query arguments (for pagination and CSV links), empty ones left out."""
        names = {"account_id": "account", "utility_type": "type", "status": "status",
                 "date_from": "from", "date_to": "to"}
        return {names[k]: str(v) for k, v in asdict(self).items() if v is not None}

    @property
    def active(self) -> bool:
        return any(v is not None for v in asdict(self).values())


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a calendar day starts in ``tz``."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _filtered(user_id: int, timezone: str, filters: HistoryFilters) -> Select:
    tz = ZoneInfo(timezone)
    query = select(Payment).where(Payment.user_id == user_id)
    if filters.account_id is not None:
        query = query.where(Payment.utility_account_id == filters.account_id)
    if filters.utility_type:
        query = query.where(Payment.utility_type == filters.utility_type)
    if filters.status:
        query = query.where(Payment.status == filters.status)
    if filters.date_from:
        query = query.where(Payment.created_at >= local_midnight(filters.date_from, tz))
    if filters.date_to:
        query = query.where(Payment.created_at < local_midnight(filters.date_to + timedelta(days=1), tz))
    return query


# What a list row shows of a payment and of its account; the rest stays in the database.
# (``token_next_check_at`` is for ``Payment.token_on_its_way``, the "Token on its way" badge.)
LIST_COLUMNS = (Payment.id, Payment.reference, Payment.created_at, Payment.utility_account_id, Payment.provider_id,
                Payment.utility_type, Payment.amount_kobo, Payment.fee_kobo, Payment.status, Payment.status_reason,
                Payment.token, Payment.units, Payment.kind, Payment.token_next_check_at)
LIST_ACCOUNT_COLUMNS = (UtilityAccount.nickname, UtilityAccount.number_last4, UtilityAccount.removed_at)


def _with_accounts(query: Select) -> Select:
    """Load each payment's account in the same statement; never its timeline or catalogue entry.

    Only the columns a list shows are read: the encrypted number would be decrypted per row, and
    the JSON details parsed, for nothing. Views that need more load the payment by id.
    """
    return query.options(*_list_options()).order_by(Payment.created_at.desc(), Payment.id.desc())


@functools.cache
def _list_options() -> tuple:
    # Built once: loader options are immutable, and building these costs as much as running the query.
    return (
        load_only(*LIST_COLUMNS),
        joinedload(Payment.utility_account).load_only(*LIST_ACCOUNT_COLUMNS).lazyload(UtilityAccount.provider),
        lazyload(Payment.events),
    )


# --- pages -------------------------------------------------------------------------------------

def resident_accounts(user_id: int) -> list[UtilityAccount]:
    """The resident's accounts for the filter list, removed ones last (their history is kept)."""
    return list(db.session.scalars(
        select(UtilityAccount).where(UtilityAccount.user_id == user_id)
        .options(load_only(*LIST_ACCOUNT_COLUMNS), lazyload(UtilityAccount.provider))
        .order_by(UtilityAccount.removed_at.is_not(None), UtilityAccount.nickname, UtilityAccount.id)
    ))


def history_page(user: User, filters: HistoryFilters, page: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """One page of the resident's payments, newest first (``Pagination`` of ``Payment``)."""
    query = _with_accounts(_filtered(user.id, user.effective_timezone, filters))
    return db.paginate(query, page=max(page, 1), per_page=per_page,
                       max_per_page=100, error_out=False)


def recent_payments(user_id: int, limit: int = 5) -> list[Payment]:
    query = _with_accounts(select(Payment).where(Payment.user_id == user_id)).limit(limit)
    return list(db.session.scalars(query).unique())


@dataclass(frozen=True)
class PaymentDetail:
    payment: Payment
    calls: list[ProviderCallLog]
    debited: bool
    refund: JournalEntry | None

    @property
    def failure_reason(self) -> str | None:
        if self.payment.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
            return None
        return self.payment.status_reason or "The payment could not be completed."


def find_payment(user_id: int, payment_id) -> Payment | None:
    """The resident's payment with its account and provider loaded; ``None`` for anyone else's."""
    return access.own_payment(user_id, payment_id,
                              joinedload(Payment.utility_account).defer(UtilityAccount.customer_number),
                              joinedload(Payment.provider))


def payment_detail(user_id: int, payment_id: int) -> PaymentDetail | None:
    """A payment with its timeline (``payment.events``), provider calls and whether it was refunded."""
    payment = find_payment(user_id, payment_id)
    if payment is None:
        return None
    calls = list(db.session.scalars(
        select(ProviderCallLog).where(ProviderCallLog.payment_id == payment.id).order_by(ProviderCallLog.id)
    ))
    return PaymentDetail(
        payment=payment,
        calls=calls,
        debited=ledger.find_entry(ledger.payment_debit_key(payment.reference)) is not None,
        refund=ledger.find_entry(ledger.payment_refund_key(payment.reference)),
    )


def receipt(user_id: int, payment_id: int) -> Payment | None:
    """A receipt exists only for a succeeded payment of this resident."""
    payment = find_payment(user_id, payment_id)
    return payment if payment is not None and payment.status == PaymentStatus.SUCCEEDED else None


# --- CSV ---------------------------------------------------------------------------------------

CSV_HEADER = ["Date", "Reference", "Account", "Number", "Utility type", "Provider", "Amount (NGN)",
              "Fee (NGN)", "Total (NGN)", "Status", "Token", "Units", "Reason"]


def safe_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ would otherwise run as a formula."""
    text = value or ""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_rows(user_id: int, timezone: str, filters: HistoryFilters) -> Iterator[list[str]]:
    """The header, then one row per payment (same filters as the page), read in batches.

    Takes plain values, not the ``User``: a streamed response runs this after the request's own
    database session has been closed, so objects loaded there can no longer lazy-load.
    """
    tz = ZoneInfo(timezone)
    yield CSV_HEADER
    query = _with_accounts(_filtered(user_id, timezone, filters)).options(joinedload(Payment.provider))
    for payment in db.session.scalars(query.execution_options(yield_per=CSV_BATCH)):
        account = payment.utility_account
        yield [
            payment.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            payment.reference,
            safe_cell(account.nickname if account else ""),
            account.masked_number if account else "",
            UTILITY_LABELS.get(payment.utility_type or "", payment.utility_type or ""),
            safe_cell(payment.provider.name if payment.provider else ""),
            naira_plain(payment.amount_kobo),
            naira_plain(payment.fee_kobo),
            naira_plain(payment.total_kobo),
            STATUS_LABELS.get(payment.status, payment.status),
            # Grouped so a spreadsheet keeps it as text instead of rounding a 20-digit number.
            " ".join(payment.token_groups),
            safe_cell(payment.units),
            safe_cell(payment.status_reason if payment.status != PaymentStatus.SUCCEEDED else ""),
        ]


# --- dashboard ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class MonthlySpend:
    """Succeeded spend (amount + fee, what left the wallet) per local calendar month and utility type."""

    months: list[date]  # first day of each month, oldest first
    types: list[str]  # utility types with any spend, in catalogue order
    totals: dict[tuple[int, str], int] = field(default_factory=dict)  # (month index, type) -> kobo

    def month_total(self, index: int) -> int:
        return sum(self.totals.get((index, t), 0) for t in self.types)

    @property
    def grand_total(self) -> int:
        return sum(self.totals.values())


def month_starts(today: date, count: int = SPEND_MONTHS) -> list[date]:
    """The first days of the ``count`` calendar months ending with ``today``'s, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _month_of(column, ends: list, first: int, stop: int):
    """CASE giving the index of the month a timestamp falls in, as a binary search over the month
    ends (four comparisons a row instead of up to twelve; ``ends[i]`` is where month i ends)."""
    if stop - first == 1:
        return literal(first)
    middle = (first + stop) // 2
    return case((column < ends[middle - 1], _month_of(column, ends, first, middle)),
                else_=_month_of(column, ends, middle, stop))


@functools.cache
def _spend_statement(count: int) -> Select:
    """The aggregate, built once per month count with named parameters.

    Building a CASE of a dozen bound datetimes costs several times what SQLite needs to run it,
    so only the values change from call to call. Grouping an outer query by the subquery's
    columns keeps PostgreSQL from comparing two copies of the CASE.
    """
    when = Payment.created_at.type
    ends = [bindparam(f"end_{i}", type_=when) for i in range(count)]
    rows = (
        select(_month_of(Payment.created_at, ends, 0, count).label("month"),
               Payment.utility_type.label("utility_type"), (Payment.amount_kobo + Payment.fee_kobo).label("spent"))
        .where(Payment.user_id == bindparam("user_id"), Payment.status == PaymentStatus.SUCCEEDED.value,
               Payment.utility_type.is_not(None),
               Payment.created_at >= bindparam("start", type_=when), Payment.created_at < ends[-1])
        .subquery()
    )
    return select(rows.c.month, rows.c.utility_type, func.sum(rows.c.spent)).group_by(rows.c.month,
                                                                                        rows.c.utility_type)


def monthly_spend(user: User, now: datetime | None = None, count: int = SPEND_MONTHS) -> MonthlySpend:
    """One aggregate query: month boundaries are local midnights turned into UTC instants.

    The month of each payment is a CASE over those instants, so the database groups in the
    resident's timezone on SQLite and PostgreSQL alike, and the index on (user_id, created_at)
    bounds the scan to the last ``count`` months.
    """
    tz = ZoneInfo(user.effective_timezone)
    now = now or datetime.now(UTC)
    months = month_starts(now.astimezone(tz).date(), count)
    after_last = date(months[-1].year + months[-1].month // 12, months[-1].month % 12 + 1, 1)
    ends = [local_midnight(m, tz) for m in [*months[1:], after_last]]
    params = {"user_id": user.id, "start": local_midnight(months[0], tz)} | {f"end_{i}": e for i, e in enumerate(ends)}
    totals = {(int(month), kind): int(spent)  # int(): PostgreSQL sums BIGINT as NUMERIC
              for month, kind, spent in db.session.execute(_spend_statement(count), params)}
    present = {kind for _, kind in totals}
    types = [t for t in UTILITY_TYPES if t in present] + sorted(present - set(UTILITY_TYPES))
    return MonthlySpend(months=months, types=types, totals=totals)


@dataclass(frozen=True)
class PayAgain:
    account_id: int
    nickname: str
    amount_kobo: int

    @property
    def url(self) -> str:
        # The pay page is another blueprint's; its URL is part of the fixed contract.
        return f"/pay/?account={self.account_id}&amount={self.amount_kobo}"


def pay_again(user_id: int, limit: int = 4, lookback: int = 40) -> list[PayAgain]:
    """The last succeeded amount for each account paid recently, newest first.

    "Recently" is the resident's latest ``lookback`` succeeded payments to accounts still linked
    and on offer (a link to a page that would refuse is no shortcut), so the cost stays flat
    however long the history grows.
    """
    latest = db.session.execute(
        select(Payment.utility_account_id, UtilityAccount.nickname, Payment.amount_kobo)
        .join(UtilityAccount, UtilityAccount.id == Payment.utility_account_id)
        .join(UtilityProvider, UtilityProvider.id == UtilityAccount.provider_id)
        .where(Payment.user_id == user_id, Payment.status == PaymentStatus.SUCCEEDED.value,
               UtilityAccount.removed_at.is_(None), UtilityProvider.is_active.is_(True))
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(lookback)
    )
    shortcuts: dict[int, PayAgain] = {}
    for account_id, nickname, amount_kobo in latest:  # newest first: the first row per account wins
        if account_id not in shortcuts:
            shortcuts[account_id] = PayAgain(account_id, nickname, amount_kobo)
    return list(shortcuts.values())[:limit]


@dataclass(frozen=True)
class Dashboard:
    balance_kobo: int
    recent: list[Payment]
    pay_again: list[PayAgain]
    spend: MonthlySpend


@dataclass(frozen=True)
class DashboardVersion:
    """What the dashboard shows depends on (``key``), when that data last changed, and the
    unread-notification count for the nav badge (part of the key too)."""

    key: tuple
    newest_change: datetime | None
    unread_notifications: int


def _newest(column, owner_column, owner: str):
    return select(func.max(column)).where(owner_column == bindparam(owner)).scalar_subquery()


def _count(column, owner_column, owner: str):
    return select(func.count(column)).where(owner_column == bindparam(owner)).scalar_subquery()


@functools.cache
def _version_statement() -> Select:
    return select(
        select(Account.balance_kobo).where(Account.user_id == bindparam("user_id")).scalar_subquery(),
        _newest(Payment.updated_at, Payment.user_id, "user_id"), _count(Payment.id, Payment.user_id, "user_id"),
        _newest(UtilityAccount.updated_at, UtilityAccount.user_id, "user_id"),
        _count(UtilityAccount.id, UtilityAccount.user_id, "user_id"),
        _newest(Bill.updated_at, Bill.user_id, "user_id"), _count(Bill.id, Bill.user_id, "user_id"),
        _newest(UtilityProvider.updated_at, UtilityProvider.estate_id, "estate_id"),
        _newest(Estate.updated_at, Estate.id, "estate_id"),
        select(Estate.timezone).where(Estate.id == bindparam("estate_id")).scalar_subquery(),
        select(func.count(Notification.id))
        .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None)).scalar_subquery(),
    )


def dashboard_version(user: User, now: datetime | None = None) -> DashboardVersion:
    """One statement over indexes, however long the history: the dashboard's version.

    The page changes only if one of these does: the wallet balance; the resident's payments,
    accounts or estate bills (count and newest ``updated_at``: rows are stamped on every update);
    the estate's catalogue (names, offered or not); the resident's or the estate's own row (name,
    role, timezone); the unread notifications (the nav badge); or the local month (the chart's
    last bar).
    """
    now = now or datetime.now(UTC)
    # Core, not the ORM: no entities come back, and this runs on every dashboard view.
    row = db.session.connection().execute(_version_statement(), {"user_id": user.id, "estate_id": user.estate_id})
    (balance, payments_at, payments, accounts_at, accounts, bills_at, bills, catalogue_at, estate_at,
     estate_timezone, unread) = row.one()
    timezone = user.timezone or estate_timezone or "Africa/Lagos"  # User.effective_timezone, without loading the estate
    local_month = now.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")
    stamps = [s for s in (payments_at, accounts_at, bills_at, catalogue_at, estate_at, user.updated_at) if s]
    key = (user.id, user.updated_at, timezone, local_month, balance or 0, payments, payments_at,
           accounts, accounts_at, bills, bills_at, catalogue_at, estate_at, unread)
    return DashboardVersion(key=key, newest_change=max(stamps) if stamps else None,
                            unread_notifications=int(unread or 0))


def dashboard(user: User, now: datetime | None = None) -> Dashboard:
    """Everything the resident's home page shows, in a fixed number of queries. Never writes."""
    return Dashboard(
        balance_kobo=ledger.wallet_balance(user.id),
        recent=recent_payments(user.id),
        pay_again=pay_again(user.id),
        spend=monthly_spend(user, now),
    )
