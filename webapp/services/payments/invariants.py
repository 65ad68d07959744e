"""Payment invariants (DESIGN §3), checked with the ledger's by ``flask ledger check``.

Every succeeded (or in-flight debited) payment has exactly one debit and no refund; every failed
or cancelled payment that was debited has exactly one refund; a refunded payment has one of each;
created/held payments moved nothing.
"""
from __future__ import annotations

from sqlalchemy import and_, case, func, not_, or_, select

from webapp.extensions import db
from webapp.models import JournalEntry, Payment, PaymentStatus
from webapp.services import ledger

S = PaymentStatus
DEBIT_HELD = [s.value for s in (S.SUCCEEDED, S.DEBITED, S.SUBMITTED, S.UNKNOWN)]
ENDED = [S.FAILED.value, S.CANCELLED.value]
NOTHING_YET = [S.CREATED.value, S.HELD.value]
REFUNDED = [S.REFUNDED.value]


def payment_money_matches_status() -> list[str]:
    debits = func.coalesce(func.sum(case(
        (JournalEntry.idempotency_key == "payment:" + Payment.reference + ":debit", 1), else_=0)), 0)
    refunds = func.coalesce(func.sum(case(
        (JournalEntry.idempotency_key == "payment:" + Payment.reference + ":refund", 1), else_=0)), 0)
    consistent = or_(
        and_(Payment.status.in_(DEBIT_HELD), debits == 1, refunds == 0),
        and_(Payment.status.in_(ENDED), debits == refunds, debits <= 1),
        and_(Payment.status.in_(NOTHING_YET), debits == 0, refunds == 0),
        and_(Payment.status.in_(REFUNDED), debits == 1, refunds == 1),
    )
    rows = db.session.execute(
        select(Payment.reference, Payment.status, debits, refunds)
        .outerjoin(JournalEntry, JournalEntry.reference == Payment.reference)
        .group_by(Payment.id, Payment.reference, Payment.status)
        .having(not_(consistent))
    ).all()
    return [f"payment {ref} is {status} with {d} debit(s) and {r} refund(s)" for ref, status, d, r in rows]


ledger.register_invariant("payments: money matches status", payment_money_matches_status)
