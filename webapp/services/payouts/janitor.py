"""The payouts' janitor (every minute from the cron process): what a lost job or a crashed worker
left behind, and requests nobody decided.

- ``approved`` past its check time (its send job lost, or a transient refusal's retry due): sent;
  ``approved`` always means "not sent yet, or the gateway has no record of it", so sending is safe;
- ``submitted`` past its lease (the worker died during or after the call): never sent again
  blindly; the gateway is asked;
- ``pending`` and ``unknown`` past their check time: asked, on the requery backoff;
- still not settled ``PAYOUT_UNRESOLVED_ALERT_AFTER_SECONDS`` after it was sent: the estate's
  admins are alerted once;
- ``requested`` for longer than ``PAYOUT_REQUEST_TTL_SECONDS``: closed as not approved in time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Payout, PayoutStatus
from webapp.models.base import utcnow
from webapp.services.payouts import alerts, transfers
from webapp.services.payouts.common import move

log = logging.getLogger(__name__)
S = PayoutStatus
BATCH = 100


@dataclass
class PayoutJanitorReport:
    sent: int = 0
    checked: int = 0
    expired: int = 0
    alerted: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"payouts: {self.sent} sent, {self.checked} asked about, {self.expired} requests expired, "
                f"{self.alerted} alerts, {len(self.errors)} errors")


def _due(statuses, now: datetime) -> list[int]:
    ids = list(db.session.scalars(select(Payout.id).where(
        Payout.status.in_([s.value for s in statuses]), Payout.next_check_at <= now)
        .order_by(Payout.next_check_at).limit(BATCH)))
    db.session.rollback()
    return ids


def run_pass(now: datetime | None = None) -> PayoutJanitorReport:
    now = now or utcnow()
    report = PayoutJanitorReport()
    for payout_id in _due([S.APPROVED], now):
        _each(report, payout_id, transfers.send, "sent")
    for payout_id in _due([S.SUBMITTED, S.PENDING, S.UNKNOWN], now):
        _each(report, payout_id, _check_and_resend, "checked")
    report.expired = _expire_requests(now)
    report.alerted = _alert_unresolved(now)
    return report


def _check_and_resend(payout_id: int) -> str:
    status = transfers.check(payout_id, source="the janitor's status check")
    if status == S.APPROVED.value:
        transfers.send(payout_id)
    return status


def _each(report: PayoutJanitorReport, payout_id: int, step, counter: str) -> None:
    try:
        step(payout_id)
        setattr(report, counter, getattr(report, counter) + 1)
    except Exception as exc:  # one payout's trouble must not stop the others
        db.session.rollback()
        log.exception("payout %s: janitor step failed", payout_id)
        report.errors.append(f"payout {payout_id}: {exc}")


def _expire_requests(now: datetime) -> int:
    ttl = timedelta(seconds=current_app.config["PAYOUT_REQUEST_TTL_SECONDS"])
    rows = list(db.session.scalars(select(Payout).where(
        Payout.status == S.REQUESTED.value, Payout.created_at <= now - ttl).limit(BATCH)))
    expired = 0
    for payout in rows:
        days = ttl.total_seconds() / 86400
        if move(payout, S.CANCELLED, f"Not approved within {days:g} days", allowed_from=[S.REQUESTED],
                decided_reason=f"Not approved within {days:g} days", finished_at=now):
            alerts.decided(payout)
            expired += 1
    db.session.commit()
    return expired


def _alert_unresolved(now: datetime) -> int:
    after = timedelta(seconds=current_app.config["PAYOUT_UNRESOLVED_ALERT_AFTER_SECONDS"])
    rows = list(db.session.scalars(select(Payout).where(
        Payout.status.in_([s.value for s in transfers.SENT]), Payout.submitted_at <= now - after,
        Payout.alerted_at.is_(None)).limit(BATCH)))
    hours = after.total_seconds() / 3600
    for payout in rows:
        payout.alerted_at = now
        alerts.unresolved(payout, f"{hours:g} hours" if hours >= 2 else f"{after.total_seconds() / 60:g} minutes")
    db.session.commit()
    return len(rows)
