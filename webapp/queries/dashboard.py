"""The resident's home page: two statements built at import, plain rows out, nothing left to load.

After sign-in (the user loader's one query) the page costs two round trips:

1. ``PAGE``: one UNION ALL of the page's parts, each row tagged with the part it belongs to and its
   place in it: the wallet line (balance, unread notifications, the estate's name and timezone),
   the five latest payments with their account's label, the pay-again shortcuts, the latest token
   of each meter and the open estate bills.
2. ``SPEND``: the monthly spend. Its month boundaries are local midnights, so it needs the
   timezone the first statement read.

Both are built once with bound parameters, so a view pays for running them and nothing else (no
statement building, no cache-key walk). Rows become frozen dataclasses: no ORM object reaches the
templates, so nothing on the page can lazy-load (tests/test_dashboard.py holds that).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from webapp.extensions import db
from webapp.models import (
    Account,
    Bill,
    BillStatus,
    Estate,
    Notification,
    Payment,
    PaymentStatus,
    User,
    UtilityAccount,
    UtilityProvider,
)
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.models.catalogue import UTILITY_TYPES
from webapp.queries.history import local_midnight
from webapp.services import access

RECENT_PAYMENTS = 5
PAY_AGAIN = 4
METER_TOKENS = 4  # the latest token of this many meters
# Pay-again looks at this many of the latest succeeded payments, so its cost stays flat however
# long the history grows.
PAY_AGAIN_LOOKBACK = 40
SPEND_MONTHS = 12
DEFAULT_TIMEZONE = "Africa/Lagos"


# --- what the page shows -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AccountLabel:
    nickname: str
    number_last4: str

    masked_number = property(UtilityAccount.masked_number.fget)  # the model's own rule


@dataclass(frozen=True, slots=True)
class RecentPayment:
    """What a row of history/_payments_table.html reads, and nothing more."""

    id: int
    created_at: datetime
    utility_type: str | None
    amount_kobo: int
    status: str
    token: str | None
    token_next_check_at: datetime | None
    utility_account: AccountLabel | None
    bill_title: str | None  # an estate bill's payment: what was paid for

    # The model's own rules, so the dashboard and the history page cannot disagree.
    token_groups = property(Payment.token_groups.fget)
    token_on_its_way = property(Payment.token_on_its_way.fget)


@dataclass(frozen=True, slots=True)
class PayAgain:
    account_id: int
    nickname: str
    amount_kobo: int

    @property
    def url(self) -> str:
        # The pay page is another blueprint's; its URL is part of the fixed contract.
        return f"/pay/?account={self.account_id}&amount={self.amount_kobo}"


@dataclass(frozen=True, slots=True)
class MeterToken:
    """The latest token bought for one meter: what the home page shows with its copy button."""

    account_id: int
    nickname: str
    number_last4: str
    token: str
    bought_at: datetime
    amount_kobo: int

    token_groups = property(Payment.token_groups.fget)  # the model's own grouping


@dataclass(frozen=True, slots=True)
class OpenBill:
    """What estate_bills/_open_bills.html reads of a ``Bill``."""

    id: int
    title: str
    outstanding_kobo: int
    due_date: date | None
    status: str


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


@dataclass(frozen=True)
class Dashboard:
    estate_name: str
    timezone: str  # the resident's own, else the estate's
    balance_kobo: int
    unread_notifications: int
    recent: list[RecentPayment]
    pay_again: list[PayAgain]
    open_bills: list[OpenBill]
    spend: MonthlySpend
    tokens: list[MeterToken] = field(default_factory=list)


# --- the page statement ------------------------------------------------------------------------

USER_ID = bindparam("user_id")
ESTATE_ID = bindparam("estate_id")

# The columns every part of the page statement fills, NULL where it has nothing to say, so the
# parts can be one UNION ALL. A UNION's result types are its first part's, and that part (the
# wallet line) is mostly typed NULLs: so each slot carries the type of the column it holds, or the
# encrypted token would come back unread and the times without their time zone. Typed NULLs also
# keep PostgreSQL's UNION type resolution exact.
SLOTS = {
    "number": BigInteger(),  # a row id, or the unread count
    "kobo": BigInteger(),
    "text": String(),  # a nickname, a bill's title, the estate's name
    "kind": String(),  # a utility type, the estate's timezone
    "status": String(),
    "token": Payment.token.type,  # encrypted at rest: decrypted as it is read
    "last4": String(),  # the account's number_last4 (NULL: the payment has no account)
    "at": Payment.created_at.type,
    "check_at": Payment.token_next_check_at.type,
    "due": Bill.due_date.type,
}


def _part(name: str, position, **values) -> Select:
    """One part of ``PAGE``: its name, each row's place in it, and ``values`` by slot."""
    if set(values) - set(SLOTS):
        raise TypeError(f"no such slot: {sorted(set(values) - set(SLOTS))}")
    return select(literal(name, String()).label("part"), position.label("position"),
                  *(values[slot].label(slot) if slot in values else cast(null(), type_).label(slot)
                    for slot, type_ in SLOTS.items()))


def _place(*order_by):
    return func.row_number().over(order_by=order_by)


def _wallet_part() -> Select:
    # Scalar subqueries, so the row exists even before the resident has a wallet (balance NULL).
    return _part(
        "wallet", literal(1),
        kobo=select(Account.balance_kobo).where(Account.user_id == USER_ID).scalar_subquery(),
        number=select(func.count(Notification.id))
        .where(Notification.user_id == USER_ID, Notification.read_at.is_(None)).scalar_subquery(),
        text=select(Estate.name).where(Estate.id == ESTATE_ID).scalar_subquery(),
        kind=select(Estate.timezone).where(Estate.id == ESTATE_ID).scalar_subquery(),
    )


def _recent_part() -> Select:
    # The limit is applied over the (user_id, created_at) index first; only five rows are numbered.
    latest = (
        select(Payment.id, Payment.created_at, Payment.utility_type, Payment.amount_kobo, Payment.status,
               Payment.token, Payment.token_next_check_at, UtilityAccount.number_last4,
               func.coalesce(UtilityAccount.nickname, Bill.title).label("label"))
        .outerjoin(UtilityAccount, UtilityAccount.id == Payment.utility_account_id)
        .outerjoin(Bill, Bill.id == Payment.bill_id)
        .where(Payment.user_id == USER_ID)
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(RECENT_PAYMENTS)
        .subquery()
    )
    c = latest.c
    return _part("recent", _place(c.created_at.desc(), c.id.desc()),
                 number=c.id, at=c.created_at, kind=c.utility_type, kobo=c.amount_kobo, status=c.status,
                 token=c.token, check_at=c.token_next_check_at, text=c.label, last4=c.number_last4)


def _newest_per_account(*columns, where, limit: int):
    """Of the resident's latest ``PAY_AGAIN_LOOKBACK`` succeeded payments to linked accounts that
    match ``where``, each account's newest, the ``limit`` accounts paid most recently first: a
    subquery of ``columns`` (of Payment and UtilityAccount) with ``place``, each row's rank."""
    latest = (
        select(Payment.id, Payment.created_at, Payment.utility_account_id, *columns)
        .join(UtilityAccount, UtilityAccount.id == Payment.utility_account_id)
        .join(UtilityProvider, UtilityProvider.id == UtilityAccount.provider_id)
        .where(Payment.user_id == USER_ID, Payment.status == PaymentStatus.SUCCEEDED.value,
               UtilityAccount.removed_at.is_(None), *where)
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(PAY_AGAIN_LOOKBACK)
        .subquery()
    )
    newest_first = (latest.c.created_at.desc(), latest.c.id.desc())
    ranked = select(latest, func.row_number().over(partition_by=latest.c.utility_account_id,
                                                   order_by=newest_first).label("nth")).subquery()
    c = ranked.c
    return (
        select(*(c[column.key] for column in (Payment.created_at, Payment.utility_account_id, *columns)),
               _place(c.created_at.desc(), c.id.desc()).label("place"))
        .where(c.nth == 1)  # each account's newest
        .order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        .subquery()
    )


def _pay_again_part() -> Select:
    """The last succeeded amount for each account paid recently, newest first, for accounts still
    linked and on offer (a link to a page that would refuse is no shortcut)."""
    shortcuts = _newest_per_account(Payment.amount_kobo, UtilityAccount.nickname,
                                    where=[UtilityProvider.is_active.is_(True)], limit=PAY_AGAIN).c
    return _part("pay_again", shortcuts.place,
                 number=shortcuts.utility_account_id, text=shortcuts.nickname, kobo=shortcuts.amount_kobo)


def _tokens_part() -> Select:
    """Each meter's newest token, for the meters bought for most recently (still linked)."""
    m = _newest_per_account(Payment.amount_kobo, Payment.token, UtilityAccount.nickname, UtilityAccount.number_last4,
                            where=[Payment.token.is_not(None)], limit=METER_TOKENS).c
    return _part("token", m.place, number=m.utility_account_id, text=m.nickname, last4=m.number_last4,
                 token=m.token, at=m.created_at, kobo=m.amount_kobo)


def _open_bills_part() -> Select:
    # The resident's estate bills as access scopes them, in estate_bills.open_bills' order:
    # overdue first, then by due date (none last). The open statuses are ORed rather than IN (...):
    # an IN list is an "expanding" parameter, rewritten into the SQL string on every execution.
    return (
        access.own_estate_bills(USER_ID).where(or_(*(Bill.status == status for status in OPEN_BILL_STATUSES)))
        .with_only_columns(*_part(
            "bill", _place(Bill.status != BillStatus.OVERDUE.value, Bill.due_date.is_(None), Bill.due_date, Bill.id),
            number=Bill.id, text=Bill.title, kobo=Bill.amount_kobo - Bill.amount_paid_kobo, due=Bill.due_date,
            status=Bill.status,
        ).selected_columns)
    )


PAGE = union_all(_wallet_part(), _recent_part(), _pay_again_part(), _tokens_part(), _open_bills_part())
PAGE = PAGE.order_by(PAGE.selected_columns.part, PAGE.selected_columns.position)
assert tuple(PAGE.selected_columns.keys()) == ("part", "position", *SLOTS)  # the order dashboard() unpacks


# --- the spend statement -----------------------------------------------------------------------

def month_starts(today: date, count: int = SPEND_MONTHS) -> list[date]:
    """The first days of the ``count`` calendar months ending with ``today``'s, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _spend_statement(count: int) -> CompoundSelect:
    """Succeeded spend per month index and utility type over ``count`` months, month ``i`` running
    from ``edge_<i>`` to ``edge_<i + 1>`` (local midnights as UTC instants).

    One part per month, each a range scan of the index on (user_id, created_at) grouped by type,
    so the database groups in the resident's timezone on SQLite and PostgreSQL alike. This is
    cheaper than one scan that works out each row's month with a CASE and then groups the whole
    year at once: on SQLite the CASE and the year-wide sort were most of the statement's cost.
    """
    when = Payment.created_at.type
    edges = [bindparam(f"edge_{i}", type_=when) for i in range(count + 1)]
    spent = func.sum(Payment.amount_kobo + Payment.fee_kobo)
    return union_all(*(
        select(literal_column(str(i), Integer()).label("month"), Payment.utility_type, spent)
        .where(Payment.user_id == USER_ID, Payment.status == PaymentStatus.SUCCEEDED.value,
               Payment.utility_type.is_not(None), Payment.created_at >= edges[i], Payment.created_at < edges[i + 1])
        .group_by(Payment.utility_type)
        for i in range(count)
    ))


SPEND = _spend_statement(SPEND_MONTHS)


def monthly_spend(user_id: int, timezone: str, now: datetime | None = None) -> MonthlySpend:
    """The last ``SPEND_MONTHS`` local calendar months of succeeded spend, in one statement."""
    tz = ZoneInfo(timezone)
    now = now or datetime.now(UTC)
    months = month_starts(now.astimezone(tz).date(), SPEND_MONTHS)
    after_last = date(months[-1].year + months[-1].month // 12, months[-1].month % 12 + 1, 1)
    params = {"user_id": user_id} | {f"edge_{i}": local_midnight(m, tz) for i, m in enumerate([*months, after_last])}
    totals = {(int(month), kind): int(spent)  # int(): PostgreSQL sums BIGINT as NUMERIC
              for month, kind, spent in db.session.connection().execute(SPEND, params)}
    present = {kind for _, kind in totals}
    types = [t for t in UTILITY_TYPES if t in present] + sorted(present - set(UTILITY_TYPES))
    return MonthlySpend(months=months, types=types, totals=totals)


# --- the page ----------------------------------------------------------------------------------

def dashboard(user: User, now: datetime | None = None) -> Dashboard:
    """Everything the resident's home page shows, in two statements. Never writes.

    Reads only columns the user loader already loaded (id, estate, timezone), so the user costs
    no lazy load either.
    """
    rows = db.session.connection().execute(PAGE, {"user_id": user.id, "estate_id": user.estate_id})
    recent, pay_again, open_bills, tokens = [], [], [], []
    wallet = None
    # Unpacked as tuples, in the column order PAGE is checked to have (cheaper than access by name).
    for part, _, number, kobo, text, kind, status, token, last4, at, check_at, due in rows:
        if part == "recent":
            # text: the account's nickname, or for a payment with no account the estate bill's title.
            account = AccountLabel(text, last4) if last4 is not None else None
            recent.append(RecentPayment(number, at, kind, kobo, status, token, check_at, account,
                                        None if account else text))
        elif part == "pay_again":
            pay_again.append(PayAgain(number, text, kobo))
        elif part == "bill":
            open_bills.append(OpenBill(number, text, kobo, due, status))
        elif part == "token":
            tokens.append(MeterToken(number, text, last4, token, at, kobo))
        else:
            wallet = (number, kobo, text, kind)
    unread, balance, estate_name, estate_timezone = wallet
    timezone = user.timezone or estate_timezone or DEFAULT_TIMEZONE  # User.effective_timezone, estate unloaded
    return Dashboard(
        estate_name=estate_name or "",
        timezone=timezone,
        balance_kobo=balance or 0,
        unread_notifications=unread or 0,
        recent=recent,
        pay_again=pay_again,
        open_bills=open_bills,
        spend=monthly_spend(user.id, timezone, now),
        tokens=tokens,
    )
