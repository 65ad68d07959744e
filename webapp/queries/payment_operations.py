"""What an estate admin needs to keep residents' money from getting stuck: queues of payments that
wait for a person (held for review), for the provider (unknown) or that went wrong (failed), a
payment's full story, and the open alerts the janitor raised.

Every function takes the admin's visible estate ids (``webapp/admin/scope.py``) and never returns
a row outside them. The actions themselves live in ``payments.admin_actions``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import AdminAlert, Bill, JournalEntry, Payment, PaymentStatus, ProviderCallLog
from webapp.models.base import utcnow
from webapp.services import audit, ledger

S = PaymentStatus
PER_PAGE = 25


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    statuses: tuple[str, ...]
    oldest_first: bool  # waiting rows: the one that has waited longest comes first
    blurb: str


QUEUES = {
    "held": Queue("held", "Held for review", (S.HELD.value,), True,
                  "Tripped a fraud rule. Nothing has been debited; approve to pay it, or reject with a reason."),
    "unknown": Queue("unknown", "Unknown outcome", (S.UNKNOWN.value,), True,
                     "Sent to the provider without a final answer yet. The janitor keeps asking; requery to "
                     "ask now."),
    "failed": Queue("failed", "Failed", (S.FAILED.value,), False,
                    "Failed at the provider or before it; the debit, if any, was refunded automatically."),
    "succeeded": Queue("succeeded", "Succeeded", (S.SUCCEEDED.value,), False,
                       "Completed payments. Open one to refund it with a reason."),
}
DEFAULT_QUEUE = "held"


@dataclass(frozen=True)
class PaymentDetail:
    payment: Payment
    calls: list[ProviderCallLog]
    debit: JournalEntry | None
    refund: JournalEntry | None
    bill_title: str | None
    alerts: list[AdminAlert]


def queue_counts(estate_ids: list[int]) -> dict[str, int]:
    """How many payments wait in each queue (one GROUP BY query)."""
    statuses = [s for q in QUEUES.values() for s in q.statuses]
    rows = db.session.execute(
        select(Payment.status, func.count(Payment.id))
        .where(Payment.estate_id.in_(estate_ids), Payment.status.in_(statuses))
        .group_by(Payment.status)
    ).all()
    by_status = dict(rows)
    return {key: sum(by_status.get(s, 0) for s in q.statuses) for key, q in QUEUES.items()}


def queue_page(estate_ids: list[int], queue: Queue, page: int = 1, per_page: int = PER_PAGE):
    """One page of the queue, with the resident, account and catalogue entry loaded up front."""
    order = (Payment.created_at.asc(), Payment.id.asc()) if queue.oldest_first \
        else (Payment.created_at.desc(), Payment.id.desc())
    query = (
        select(Payment)
        .where(Payment.estate_id.in_(estate_ids), Payment.status.in_(queue.statuses))
        .options(joinedload(Payment.user), joinedload(Payment.utility_account), joinedload(Payment.provider))
        .order_by(*order)
    )
    return db.paginate(query, page=max(page, 1), per_page=per_page, max_per_page=100, error_out=False)


def bill_titles(payments: list[Payment]) -> dict[int, str]:
    """Titles of the estate bills the listed payments pay (one query for the page)."""
    ids = {p.bill_id for p in payments if p.bill_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Bill.id, Bill.title).where(Bill.id.in_(ids))).all())


def detail(payment: Payment) -> PaymentDetail:
    """A payment (already scoped by the caller) with its provider calls, ledger entries and alerts."""
    calls = list(db.session.scalars(
        select(ProviderCallLog).where(ProviderCallLog.payment_id == payment.id).order_by(ProviderCallLog.id)))
    alerts = list(db.session.scalars(
        select(AdminAlert).where(AdminAlert.payment_id == payment.id).order_by(AdminAlert.id)))
    return PaymentDetail(
        payment=payment, calls=calls,
        debit=ledger.find_entry(ledger.payment_debit_key(payment.reference)),
        refund=ledger.find_entry(ledger.payment_refund_key(payment.reference)),
        bill_title=bill_titles([payment]).get(payment.bill_id) if payment.bill_id else None,
        alerts=alerts,
    )


def open_alerts(estate_ids: list[int], limit: int = 50) -> list[AdminAlert]:
    """Alerts nobody has resolved yet, oldest first (a payment unknown for over 24 hours, say)."""
    return list(db.session.scalars(
        select(AdminAlert)
        .where(AdminAlert.estate_id.in_(estate_ids), AdminAlert.resolved_at.is_(None))
        .order_by(AdminAlert.created_at, AdminAlert.id).limit(limit)))


class AlertNotFound(LookupError):
    """No such alert among the admin's estates (the view answers 404)."""


def resolve_alert(alert_id: int, estate_ids: list[int], note: str = "") -> AdminAlert:
    """Mark an alert as dealt with, audited; resolving twice changes nothing and writes nothing."""
    alert = db.session.scalar(select(AdminAlert).where(AdminAlert.id == alert_id,
                                                       AdminAlert.estate_id.in_(estate_ids)))
    if alert is None:
        raise AlertNotFound(alert_id)
    if alert.resolved_at is not None:
        return alert
    before = audit.snapshot(alert, ("resolved_at",))
    alert.resolved_at = utcnow()
    audit.record("alert.resolve", "admin_alert", alert.id, estate_id=alert.estate_id, before=before,
                 after={**audit.snapshot(alert, ("resolved_at",)), "kind": alert.kind,
                        "payment_id": alert.payment_id}, reason=note or None)
    db.session.commit()
    return alert


def age(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago, short: "45 min", "3 h", "2 d"."""
    if since is None:
        return "—"
    seconds = max(0, int(((now or utcnow()) - since).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
