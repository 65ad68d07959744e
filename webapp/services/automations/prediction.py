"""What a variable bill (postpaid electricity, water, any "full outstanding" automation) will
probably come to, from the account's own past bills.

A bill is what the account paid, with payments less than ``PARTS_WITHIN`` apart counted as parts of
one bill (a bill paid in two goes is still one bill). The expected amount is a mean weighted to the
recent past (each bill counts half as much as the one ``HALF_LIFE`` bills after it), so a change in
usage shows within a few bills; the range is the lowest and highest of the last ``RANGE_BILLS``
bills, or a margin around the expected amount while there are fewer than three. The real amount is
still what the provider reports at the run; this only stands in for it in the projection.

Pure computation in ``estimate``; ``estimates_for`` reads the history for a resident's automations.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Automation, Payment, PaymentStatus
from webapp.money import whole_naira

HISTORY = 12  # bills read per account
HALF_LIFE = 3  # bills: the weight of a bill halves every this many bills back
RANGE_BILLS = 6  # the range spans this many latest bills
FEW_BILLS = 3  # below this many bills the range is a margin around the expected amount
FEW_BILLS_MARGIN = 0.3  # +/- this share of the expected amount
STEADY_SPREAD = 0.3  # a range narrower than this share of the expected amount is "steady"
PARTS_WITHIN = timedelta(days=3)


@dataclass(frozen=True)
class BillEstimate:
    expected_kobo: int
    low_kobo: int
    high_kobo: int
    bills: int  # how many past bills it rests on

    @property
    def confidence(self) -> str:
        """How sure the estimate is, in words: 'steady', 'varies' or 'few bills'."""
        if self.bills < FEW_BILLS:
            return "few bills"
        spread = (self.high_kobo - self.low_kobo) / self.expected_kobo if self.expected_kobo else 0
        return "steady" if spread <= STEADY_SPREAD else "varies"

    @property
    def words(self) -> str:
        """'Expected from your last 6 bills (₦8,000–₦12,500; steady)'."""
        basis = "your last bill" if self.bills == 1 else f"your last {self.bills} bills"
        sure = {"steady": "steady", "varies": "it varies", "few bills": "few bills so far, a rough guess"}
        return (f"Expected from {basis} ({whole_naira(self.low_kobo)}–{whole_naira(self.high_kobo)}; "
                f"{sure[self.confidence]})")


def estimate(bills_newest_first: Sequence[int]) -> BillEstimate | None:
    """The estimate from past bill amounts in kobo, newest first; None without any bill."""
    bills = [amount for amount in bills_newest_first[:HISTORY] if amount > 0]
    if not bills:
        return None
    weights = [0.5 ** (index / HALF_LIFE) for index in range(len(bills))]
    mean = sum(w * a for w, a in zip(weights, bills, strict=True)) / sum(weights)
    expected = _whole_naira(mean)
    if len(bills) < FEW_BILLS:
        low, high = _whole_naira(mean * (1 - FEW_BILLS_MARGIN)), _whole_naira(mean * (1 + FEW_BILLS_MARGIN))
    else:
        recent = bills[:RANGE_BILLS]
        low, high = min(recent), max(recent)
    return BillEstimate(expected_kobo=expected, low_kobo=min(low, expected), high_kobo=max(high, expected),
                        bills=len(bills))


def bills_from_payments(paid: Sequence[tuple[datetime, int]]) -> list[int]:
    """Bill amounts, newest first, from (when, amount) payments newest first: payments less than
    ``PARTS_WITHIN`` after the one before are parts of one bill."""
    bills: list[int] = []
    later: datetime | None = None
    for when, amount in paid:
        if later is not None and later - when < PARTS_WITHIN:
            bills[-1] += amount
        else:
            bills.append(amount)
        later = when
    return bills


def estimates_for(automations: Sequence[Automation]) -> dict[int, BillEstimate]:
    """The estimate of each "full outstanding" utility automation with a paid history, in one query
    (each account's latest payments, a range scan of the index on the account's payments)."""
    accounts = {a.id: a.utility_account_id for a in automations
                if a.target_kind == "utility" and a.amount_mode == "full_outstanding" and a.utility_account_id}
    if not accounts:
        return {}
    newest = func.row_number().over(partition_by=Payment.utility_account_id,
                                    order_by=(Payment.created_at.desc(), Payment.id.desc())).label("newest")
    paid = (select(Payment.utility_account_id, Payment.created_at, Payment.amount_kobo, newest)
            .where(Payment.utility_account_id.in_(set(accounts.values())),
                   Payment.status == PaymentStatus.SUCCEEDED.value)
            .subquery())
    # Enough payments for HISTORY bills even when each bill was paid in a few parts.
    rows = db.session.execute(
        select(paid.c.utility_account_id, paid.c.created_at, paid.c.amount_kobo)
        .where(paid.c.newest <= HISTORY * 3).order_by(paid.c.utility_account_id, paid.c.newest)
    ).all()
    history: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for account_id, when, amount in rows:
        history[account_id].append((when, amount))
    found = {}
    for automation_id, account_id in accounts.items():
        result = estimate(bills_from_payments(history.get(account_id, [])))
        if result is not None:
            found[automation_id] = result
    return found


def _whole_naira(kobo: float) -> int:
    return int(round(kobo / 100)) * 100
