"""A resident's payment history: filtered pages, one payment's detail, CSV rows.

Everything here is read-only and scoped to one user. List queries load each payment's account in
the same statement and skip the payment's timeline, so the number of statements a page costs does
not grow with the number of payments (tests/test_query_counts.py holds that).
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from webapp.extensions import db
from webapp.models import (
    Bill,
    JournalEntry,
    Payment,
    PaymentStatus,
    ProviderCallLog,
    User,
    UtilityAccount,
)
from webapp.models.catalogue import UTILITY_LABELS
from webapp.money import naira_plain
from webapp.services import access, ledger

PER_PAGE = 20
CSV_BATCH = 500

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


def _filtered(who: int | access.Scope, timezone: str, filters: HistoryFilters) -> Select:
    tz = ZoneInfo(timezone)
    query = access.own_payments(who)
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
                Payment.token, Payment.units, Payment.kind, Payment.token_next_check_at, Payment.bill_id)
LIST_ACCOUNT_COLUMNS = (UtilityAccount.nickname, UtilityAccount.number_last4, UtilityAccount.removed_at)


def _with_accounts(query: Select) -> Select:
    """Load each payment's account (or estate bill's title) in the same statement; never its timeline
    or catalogue entry.

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
        joinedload(Payment.bill).load_only(Bill.title).lazyload("*"),  # an estate bill's row says which bill
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


def history_page(user: User, filters: HistoryFilters, page: int = 1, per_page: int = PER_PAGE,
                 scope: access.Scope | None = None) -> Pagination:
    """One page of the resident's payments (their household's, in ``scope``), newest first
    (``Pagination`` of ``Payment``)."""
    query = _with_accounts(_filtered(scope or user.id, user.effective_timezone, filters))
    return db.paginate(query, page=max(page, 1), per_page=per_page,
                       max_per_page=100, error_out=False)


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


def find_payment(who: int | access.Scope, payment_id) -> Payment | None:
    """The resident's (or household's) payment with its account, provider and maker loaded;
    ``None`` for anyone else's."""
    return access.own_payment(who, payment_id, joinedload(Payment.made_by),
                              joinedload(Payment.utility_account).defer(UtilityAccount.customer_number),
                              joinedload(Payment.provider))


def payment_detail(who: int | access.Scope, payment_id: int) -> PaymentDetail | None:
    """A payment with its timeline (``payment.events``), provider calls and whether it was refunded."""
    payment = find_payment(who, payment_id)
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


def receipt(who: int | access.Scope, payment_id: int) -> Payment | None:
    """A receipt exists only for a succeeded payment of this resident (or household)."""
    payment = find_payment(who, payment_id)
    return payment if payment is not None and payment.status == PaymentStatus.SUCCEEDED else None


# --- CSV ---------------------------------------------------------------------------------------

CSV_HEADER = ["Date", "Reference", "Account", "Number", "Utility type", "Provider", "Amount (NGN)",
              "Fee (NGN)", "Total (NGN)", "Status", "Token", "Units", "Reason"]


def safe_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ would otherwise run as a formula."""
    text = value or ""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_rows(who: int | access.Scope, timezone: str, filters: HistoryFilters) -> Iterator[list[str]]:
    """The header, then one row per payment (same filters as the page), read in batches.

    Takes plain values, not the ``User``: a streamed response runs this after the request's own
    database session has been closed, so objects loaded there can no longer lazy-load.
    """
    tz = ZoneInfo(timezone)
    yield CSV_HEADER
    query = _with_accounts(_filtered(who, timezone, filters)).options(joinedload(Payment.provider))
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
