"""The payouts' money invariants, run by ``flask ledger check`` with the ledger's own:

- every approved-or-later payout has exactly one debit (estate wallet → payout clearing);
- a paid payout has its ``sent`` and no return or reversal; a failed one its ``return`` and no
  ``sent``; a reversed one its ``sent`` and its ``reversal``; one still in flight neither;
- payouts never approved (requested, rejected, withdrawn) moved no money;
- each gateway's payout clearing account holds exactly the payouts in flight through it.
"""
from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Account, JournalEntry, Payout, PayoutStatus, Posting
from webapp.models.payout import IN_FLIGHT_STATUSES, PAYOUT_GATEWAYS
from webapp.services.ledger import invariants
from webapp.services.ledger.movements import PAYOUT_STEPS

S = PayoutStatus
# The movements each status must have (1) and must not have (0).
EXPECTED: dict[PayoutStatus, dict[str, int]] = {
    S.REQUESTED: {"debit": 0, "sent": 0, "return": 0, "reversal": 0},
    S.REJECTED: {"debit": 0, "sent": 0, "return": 0, "reversal": 0},
    S.CANCELLED: {"debit": 0, "sent": 0, "return": 0, "reversal": 0},
    **{status: {"debit": 1, "sent": 0, "return": 0, "reversal": 0} for status in IN_FLIGHT_STATUSES},
    S.SUCCEEDED: {"debit": 1, "sent": 1, "return": 0, "reversal": 0},
    S.FAILED: {"debit": 1, "sent": 0, "return": 1, "reversal": 0},
    S.REVERSED: {"debit": 1, "sent": 1, "return": 0, "reversal": 1},
}


def _movements_match_status() -> list[str]:
    steps = {step: db.session.execute(
        select(JournalEntry.reference, func.count()).where(JournalEntry.idempotency_key.like(f"payout:%:{step}"))
        .group_by(JournalEntry.reference)).all() for step in PAYOUT_STEPS}
    counts = {step: dict(rows) for step, rows in steps.items()}
    problems = []
    for reference, status in db.session.execute(select(Payout.reference, Payout.status).order_by(Payout.id)):
        for step, wanted in EXPECTED[S(status)].items():
            found = counts[step].get(reference, 0)
            if found != wanted:
                problems.append(f"payout {reference} is {status} with {found} {step} entr{'y' if found == 1 else 'ies'}"
                                f", not {wanted}")
        if len(problems) >= invariants.MAX_REPORTED:
            break
    return problems


def _clearing_holds_in_flight() -> list[str]:
    problems = []
    for gateway in PAYOUT_GATEWAYS:
        held = db.session.scalar(select(func.coalesce(func.sum(Posting.amount_kobo), 0)).join(
            Account, Account.id == Posting.account_id).where(Account.code == f"payouts:{gateway}")) or 0
        in_flight = db.session.scalar(select(func.coalesce(func.sum(Payout.amount_kobo), 0)).where(
            Payout.gateway == gateway, Payout.status.in_([s.value for s in IN_FLIGHT_STATUSES]))) or 0
        if int(held) != int(in_flight):
            problems.append(f"payout clearing for {gateway} holds {held} kobo; payouts in flight add up to {in_flight}")
    return problems


invariants.register_invariant("payout movements match their status", _movements_match_status)
invariants.register_invariant("payout clearing holds the payouts in flight", _clearing_holds_in_flight)
