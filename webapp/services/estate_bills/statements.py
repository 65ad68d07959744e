"""A resident's statement of their estate bills and what they paid towards them: read for the admin
page, and emailed to the resident when an admin sends it (audited, once per send form)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Bill, BillCategory, BillStatus, Estate, Payment, PaymentStatus, Role, User
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.money import naira
from webapp.services import audit, notify
from webapp.services.estate_bills.bills import STATUS_LABELS, estate_today


@dataclass(frozen=True)
class StatementPayment:
    paid_at: datetime
    bill_title: str
    amount_kobo: int
    reference: str


@dataclass(frozen=True)
class ResidentStatement:
    resident: User
    estate: Estate
    bills: list[Bill]
    payments: list[StatementPayment]
    as_of: date

    @property
    def billed_kobo(self) -> int:
        return sum(b.amount_kobo for b in self.bills if b.status != BillStatus.CANCELLED.value)

    @property
    def paid_kobo(self) -> int:
        return sum(b.amount_paid_kobo for b in self.bills)

    @property
    def outstanding_kobo(self) -> int:
        return sum(b.outstanding_kobo for b in self.bills if b.status in OPEN_BILL_STATUSES)


def statement_residents(estate_id: int) -> list[User]:
    """Every resident of the estate, former ones too (their bills stay), by name."""
    return list(db.session.scalars(select(User).where(User.estate_id == estate_id, User.role == Role.RESIDENT.value)
                                   .order_by(User.full_name, User.id)))


def estate_resident(estate_id: int, user_id: int | None) -> User | None:
    """The resident with this id if they live in this estate (active or not), else None."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.estate_id == estate_id and user.role == Role.RESIDENT.value else None


def resident_statement(estate: Estate, resident: User) -> ResidentStatement:
    """Every estate bill of the resident (by due date) and every payment that settled part of one."""
    bills = list(db.session.scalars(
        select(Bill).where(Bill.estate_id == estate.id, Bill.user_id == resident.id,
                           Bill.category == BillCategory.CLUSTER_MANAGED.value)
        .order_by(Bill.due_date.is_(None), Bill.due_date, Bill.id)))
    titles = {bill.id: bill.title for bill in bills}
    payments = [StatementPayment(p.completed_at or p.created_at, titles[p.bill_id], p.amount_kobo, p.reference)
                for p in db.session.scalars(
                    select(Payment).where(Payment.user_id == resident.id, Payment.bill_id.in_(list(titles)),
                                          Payment.status == PaymentStatus.SUCCEEDED.value)
                    .order_by(Payment.completed_at, Payment.id))] if titles else []
    return ResidentStatement(resident, estate, bills, payments, estate_today(estate))


def statement_text(statement: ResidentStatement) -> str:
    tz = ZoneInfo(statement.estate.timezone)
    lines = [f"Hello {statement.resident.full_name},", "",
             f"Here is your statement of estate bills from {statement.estate.name} "
             f"as of {statement.as_of:%d %b %Y}.", "", "Bills:"]
    for bill in statement.bills:
        due = f", due {bill.due_date:%d %b %Y}" if bill.due_date else ""
        lines.append(f"- {bill.title}: {naira(bill.amount_kobo)}{due}; paid {naira(bill.amount_paid_kobo)}; "
                     f"{STATUS_LABELS[bill.status].lower()}")
    if not statement.bills:
        lines.append("- none")
    lines += ["", "Payments:"]
    lines += [f"- {p.paid_at.astimezone(tz):%d %b %Y}: {naira(p.amount_kobo)} for {p.bill_title} (ref {p.reference})"
              for p in statement.payments] or ["- none"]
    lines += ["", f"Billed: {naira(statement.billed_kobo)}", f"Paid: {naira(statement.paid_kobo)}",
              f"Outstanding: {naira(statement.outstanding_kobo)}"]
    return "\n".join(lines)


def email_statement(estate: Estate, resident: User, send_key: str) -> bool:
    """Put the statement in the resident's email outbox (whatever their notification choices: an
    admin sent it on purpose) with one audit row; False when this send form was already used."""
    statement = resident_statement(estate, resident)
    message = notify.NotificationMessage(
        event=notify.NotificationEvent.ESTATE_BILL_ISSUED, title=f"Your estate bills statement from {estate.name}",
        body=statement_text(statement), link="/bills/", dedup_key=f"estate_statement:{resident.id}:{send_key}")
    sent = notify.EmailChannel().send(resident, message)
    if sent:
        audit.record("bill.statement_sent", "user", resident.id, estate_id=estate.id,
                     after={"to": resident.email, "bills": len(statement.bills),
                            "outstanding_kobo": statement.outstanding_kobo})
    db.session.commit()
    notify.enqueue_pending_emails()
    return sent
