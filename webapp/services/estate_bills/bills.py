"""Estate bills: what an estate charges its residents (security, maintenance, service charge, waste).

Admins issue bills (to chosen residents or all of them, one row each, in one transaction) and
cancel unpaid ones; residents pay them from their wallet through the payments service, which
moves the money into the estate's wallet and records it on the bill (``Bill.apply_payment``).
Overdue marking and reminders live in ``estate_bill_jobs``.

Every admin action writes one audit row in the transaction that does it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import Account, Bill, BillCategory, BillStatus, Estate, Payment, PaymentStatus, Role, User
from webapp.models.base import utcnow
from webapp.models.bill import CLUSTER_BILL_TYPES, OPEN_BILL_STATUSES
from webapp.money import naira
from webapp.services import access, audit, ledger, notify, payments

# Payments that may still move money onto a bill: counted against what is left to pay.
IN_FLIGHT = (PaymentStatus.CREATED.value, PaymentStatus.HELD.value, PaymentStatus.DEBITED.value,
             PaymentStatus.SUBMITTED.value, PaymentStatus.UNKNOWN.value)
MIN_PARTIAL_KOBO = 100_00  # a part payment below ₦100 is not worth a ledger entry; the full remainder always is
TYPE_LABELS = {
    "security": "Security", "maintenance": "Maintenance", "service_charge": "Service charge",
    "waste_management": "Waste management",
}
STATUS_LABELS = {
    "pending": "Pending", "partially_paid": "Partly paid", "paid": "Paid", "overdue": "Overdue",
    "cancelled": "Cancelled",
}
MAX_TITLE = 120


class BillError(ValueError):
    """A request we refuse before anything is written, with a message for the page."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


# --- admin: listing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BillTotals:
    count: int
    billed_kobo: int  # cancelled bills excluded
    paid_kobo: int
    outstanding_kobo: int  # of open bills


def _filtered(estate_ids: list[int], status: str | None, bill_type: str | None, due_month: date | None):
    query = select(Bill).where(Bill.estate_id.in_(estate_ids), Bill.category == BillCategory.CLUSTER_MANAGED.value)
    if status:
        query = query.where(Bill.status == status)
    if bill_type:
        query = query.where(Bill.bill_type == bill_type)
    if due_month:
        next_month = date(due_month.year + due_month.month // 12, due_month.month % 12 + 1, 1)
        query = query.where(Bill.due_date >= due_month, Bill.due_date < next_month)
    return query


def bills_page(estate_ids: list[int], *, status: str | None = None, bill_type: str | None = None,
               due_month: date | None = None, page: int = 1, per_page: int = 50) -> tuple[Pagination, BillTotals]:
    """One page of the estates' bills (due date first, newest issue next) and totals over every match."""
    query = _filtered(estate_ids, status, bill_type, due_month)
    pagination = db.paginate(query.options(joinedload(Bill.user)).order_by(Bill.due_date.desc(), Bill.id.desc()),
                             page=page, per_page=per_page, max_per_page=200, error_out=False)
    matches = query.subquery()
    live = matches.c.status != BillStatus.CANCELLED.value
    row = db.session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((live, matches.c.amount_kobo), else_=0)), 0),
        func.coalesce(func.sum(matches.c.amount_paid_kobo), 0),
        func.coalesce(func.sum(case((matches.c.status.in_(OPEN_BILL_STATUSES),
                                     matches.c.amount_kobo - matches.c.amount_paid_kobo), else_=0)), 0),
    )).one()
    # int(): PostgreSQL sums BIGINT as NUMERIC.
    return pagination, BillTotals(*(int(v) for v in row))


def estate_residents(estate_id: int) -> list[User]:
    """Residents a bill can be issued to: active residents of the estate, by name."""
    return list(db.session.scalars(
        select(User).where(User.estate_id == estate_id, User.role == Role.RESIDENT.value,
                           User.is_active_flag.is_(True)).order_by(User.full_name, User.id)
    ))


def estate_today(estate: Estate, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(estate.timezone)).date()


# --- admin: issuing and cancelling ----------------------------------------------------------------

def issue_bills(estate_id: int, *, title: str, bill_type: str, amount_kobo: int, due_date: date | None,
                user_ids: list[int] | None, issued_by: User | None = None) -> list[Bill]:
    """Bill each chosen resident (``user_ids``), or every resident of the estate (``None``: bulk issue).

    All bills, their notifications and ONE audit row commit together, so an estate never ends up
    half billed. A recipient who is not an active resident of this estate refuses the whole issue.
    """
    estate = db.session.get(Estate, estate_id)
    if estate is None:
        raise BillError("Choose an estate.", "estate")
    title = " ".join((title or "").split())
    if not title or len(title) > MAX_TITLE:
        raise BillError(f"Give the bill a title of 1 to {MAX_TITLE} characters.", "title")
    if bill_type not in {t.value for t in CLUSTER_BILL_TYPES}:
        raise BillError("Choose a bill type: security, maintenance, service charge or waste management.", "bill_type")
    if type(amount_kobo) is not int or amount_kobo <= 0:
        raise BillError("Enter an amount greater than ₦0.", "amount")
    if due_date is None:
        raise BillError("Choose a due date.", "due_date")
    if due_date < estate_today(estate):
        raise BillError("Choose a due date from today onwards.", "due_date")
    residents = {u.id: u for u in estate_residents(estate_id)}
    if user_ids is None:
        recipients = list(residents.values())
    else:
        if not user_ids or any(uid not in residents for uid in user_ids):
            raise BillError("Choose one or more residents of this estate.", "residents")
        recipients = [residents[uid] for uid in dict.fromkeys(user_ids)]
    if not recipients:
        raise BillError("This estate has no residents to bill yet.", "residents")

    bills = [Bill(estate_id=estate_id, user_id=user.id, bill_type=bill_type,
                  category=BillCategory.CLUSTER_MANAGED.value, title=title, amount_kobo=amount_kobo,
                  due_date=due_date, status=BillStatus.PENDING.value,
                  issued_by_id=issued_by.id if issued_by is not None else None) for user in recipients]
    db.session.add_all(bills)
    db.session.flush()
    for bill in bills:
        notify.notify(bill.user_id, notify.NotificationEvent.ESTATE_BILL_ISSUED, title=f"New estate bill: {title}",
                      body=f"{estate.name} billed you {naira(amount_kobo)} for {title}, due {due_date:%d %b %Y}.",
                      link="/bills/", dedup_key=f"estate_bill:{bill.id}:issued")
    audit.record("bill.bulk_issue" if user_ids is None else "bill.issue", "bill",
                 bills[0].id if len(bills) == 1 else None, estate_id=estate_id,
                 after={"count": len(bills), "bill_ids": [b.id for b in bills],
                        "user_ids": [b.user_id for b in bills], "title": title, "bill_type": bill_type,
                        "amount_kobo": amount_kobo, "due_date": due_date})
    db.session.commit()
    notify.enqueue_pending_emails()
    return bills


def _in_flight_kobo(bill_id: int) -> int:
    return int(db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_kobo), 0))
        .where(Payment.bill_id == bill_id, Payment.status.in_(IN_FLIGHT))
    ))


def _locked(query) -> Bill | None:
    # FOR UPDATE on PostgreSQL (SQLite serialises writers anyway), so two requests on one bill queue.
    return db.session.scalar(query.with_for_update())


def cancel_bill(bill_id: int, reason: str | None = None) -> Bill:
    """Cancel a bill nobody has paid anything towards, nor is paying right now (audited)."""
    bill = _locked(select(Bill).where(Bill.id == bill_id, Bill.category == BillCategory.CLUSTER_MANAGED.value))
    if bill is None:
        db.session.rollback()
        raise BillError("That estate bill does not exist.")
    problem = None
    if bill.status in (BillStatus.PAID, BillStatus.CANCELLED):
        problem = f"This bill is already {STATUS_LABELS[bill.status].lower()}."
    elif bill.amount_paid_kobo > 0:
        problem = "Part of this bill has been paid, so it cannot be cancelled."
    elif _in_flight_kobo(bill.id) > 0:
        problem = "A payment for this bill is being processed; try again in a minute."
    if problem:
        db.session.rollback()
        raise BillError(problem)
    before = audit.snapshot(bill, ("status",))
    bill.status = BillStatus.CANCELLED.value
    audit.record("bill.cancel", "bill", bill.id, estate_id=bill.estate_id, before=before,
                 after=audit.snapshot(bill, ("status",)), reason=(reason or "").strip() or None)
    db.session.commit()
    return bill


def estate_statement(estate_id: int, page: int = 1, per_page: int = 25) -> Pagination | None:
    """The estate wallet's statement page (running balance), or None while no money has reached it.

    Looks the account up instead of opening it, so viewing a statement never writes.
    """
    account_id = db.session.scalar(select(Account.id).where(Account.estate_id == estate_id))
    return None if account_id is None else ledger.statement(account_id, page=page, per_page=per_page)


def estate_balance(estate_id: int) -> int:
    return ledger.estate_balance(estate_id)


# --- residents ------------------------------------------------------------------------------------

def open_bills(user: User) -> list[Bill]:
    """The resident's unpaid estate bills: overdue first, then by due date."""
    return list(db.session.scalars(access.own_estate_bills(user.id).where(Bill.status.in_(OPEN_BILL_STATUSES)).order_by(
        (Bill.status != BillStatus.OVERDUE.value), Bill.due_date.is_(None), Bill.due_date, Bill.id)))


def resident_bills(user: User, closed_limit: int = 20) -> list[Bill]:
    """The resident's estate bills: open ones first (overdue, then by due date), then recent closed ones."""
    closed = db.session.scalars(access.own_estate_bills(user.id).where(Bill.status.not_in(OPEN_BILL_STATUSES))
                                .order_by(Bill.updated_at.desc(), Bill.id.desc()).limit(closed_limit)).all()
    return [*open_bills(user), *closed]


def payable_kobo(bill: Bill) -> int:
    """What can be paid now: the outstanding amount less payments of it still in flight."""
    if bill.status not in OPEN_BILL_STATUSES:
        return 0
    return max(0, bill.outstanding_kobo - _in_flight_kobo(bill.id))


def pay_from_wallet(user: User, bill_id, amount_kobo, submit_key: str | None = None) -> Payment:
    """Create (and commit, then enqueue) a wallet payment of the resident's estate bill.

    Full or part: at least ₦100 (or the whole remainder when less is left) and at most what is
    outstanding, counting payments already in flight so two quick clicks cannot overpay. The bill
    row is locked while checking, so two requests on it queue. ``submit_key`` makes a resubmitted
    form return the payment it already created.
    """
    existing = payments.payment_for_submit_key(user, submit_key)  # SubmitKeyTaken: another resident's key
    if existing is not None:
        return existing
    if type(amount_kobo) is not int or amount_kobo <= 0:
        raise BillError("Enter an amount greater than ₦0.", "amount")
    query = access.own_estate_bill_query(user.id, bill_id)
    if query is None:
        raise BillError("That bill is not one of yours.")
    bill = _locked(query)
    try:
        if bill is None or bill.estate_id != user.estate_id:
            raise BillError("That bill is not one of yours.")
        if bill.status not in OPEN_BILL_STATUSES:
            raise BillError(f"This bill is {STATUS_LABELS[bill.status].lower()}; there is nothing to pay.")
        payable = payable_kobo(bill)
        if payable <= 0:
            raise BillError("A payment for this bill is already being processed.", "amount")
        if amount_kobo > payable:
            raise BillError(f"The most you can pay on this bill now is {naira(payable)}.", "amount")
        if amount_kobo < MIN_PARTIAL_KOBO and amount_kobo != payable:
            raise BillError(f"Pay at least {naira(MIN_PARTIAL_KOBO)}, or the full {naira(payable)}.", "amount")
        balance = ledger.wallet_balance(user.id)
        if amount_kobo > balance:
            raise BillError(f"Your wallet has {naira(balance)}; fund your wallet first or pay less.", "amount")
    except BillError:
        db.session.rollback()
        raise
    try:
        payment = payments.new_estate_bill_payment(user, bill, amount_kobo, submit_key=submit_key or None,
                                                   made_by_id=user.id)
        db.session.commit()
    except IntegrityError:  # the same key got in first (the flush or the commit fails on it)
        db.session.rollback()
        existing = payments.payment_for_submit_key(user, submit_key)
        if existing is None:
            raise
        return existing
    payments.enqueue(payment)
    return payment
