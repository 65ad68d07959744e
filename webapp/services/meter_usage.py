"""When a prepaid meter will probably run out, from the meter's own purchases.

Each vend's units come from the provider's answer (``Payment.units``, "32.5 kWh" or "32.5"). A
meter's daily usage over the time between two top-ups is the units of the earlier one spread over
the days until the next: residents top up when the meter is low, so a vend lasts until the next.
Vends less than ``SAME_TOP_UP`` apart are one top-up (a resident who buys twice in an evening). The
rate is a mean of those spells weighted to the recent past (each spell counts half as much as the
one ``HALF_LIFE`` spells after it), so a change in usage shows within a few top-ups. What is left
is the latest top-up less what the rate says was used since; the meter runs out when that is gone.

How sure: "good" from ``GOOD_SPELLS`` spells or more whose rates agree within ``GOOD_SPREAD``;
"rough" from fewer or scattered ones; no prediction without two top-ups.

Pure computation in ``predict``; ``predictions_for`` reads the resident's prepaid meters' vends.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Payment, PaymentStatus, UtilityAccount
from webapp.services import access

HISTORY = 10  # top-ups read per meter
HALF_LIFE = 3  # spells: a spell's weight halves every this many spells back
SAME_TOP_UP = timedelta(hours=12)
GOOD_SPELLS = 3
GOOD_SPREAD = 0.35  # largest and smallest spell rate within this share of the mean rate
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Vend:
    at: datetime
    units: Decimal  # kWh


@dataclass(frozen=True)
class RunOut:
    daily_units: Decimal  # kWh a day, rounded to 0.1
    units_left: Decimal  # kWh now, rounded to 0.1, never below 0
    runs_out_at: datetime
    last_top_up_at: datetime
    spells: int  # how many spells between top-ups the rate rests on
    confidence: str  # "good" | "rough"

    def days_left(self, now: datetime) -> float:
        return max(0.0, (self.runs_out_at - now).total_seconds() / 86400)

    @property
    def sure_words(self) -> str:
        if self.confidence == "good":
            return f"from your last {self.spells} top-ups, which agree"
        return ("from your last two top-ups only, a rough guess" if self.spells == 1
                else f"from your last {self.spells} top-ups, which vary: a rough guess")


def units_of(text: str | None) -> Decimal | None:
    """The kWh in a provider's units text ("32.5 kWh", "32.5"), or None when there is no number."""
    match = _NUMBER.search(text or "")
    if not match:
        return None
    try:
        value = Decimal(match.group(0))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        return None
    return value if value > 0 else None


def top_ups(vends_newest_first: Sequence[Vend]) -> list[Vend]:
    """Vends less than ``SAME_TOP_UP`` apart merged into one top-up (at the earlier time), newest first."""
    merged: list[Vend] = []
    for vend in vends_newest_first:
        if merged and merged[-1].at - vend.at < SAME_TOP_UP:
            merged[-1] = Vend(at=vend.at, units=merged[-1].units + vend.units)
        else:
            merged.append(vend)
    return merged


def predict(vends_newest_first: Sequence[Vend], now: datetime) -> RunOut | None:
    """When the meter runs out, from its vends newest first; None with fewer than two top-ups."""
    found = top_ups(vends_newest_first)[:HISTORY]
    if len(found) < 2:
        return None
    rates = []  # newest spell first: kWh a day from one top-up to the next
    for later, earlier in zip(found, found[1:], strict=False):
        days = Decimal((later.at - earlier.at).total_seconds()) / Decimal(86400)
        rates.append(earlier.units / days)
    weights = [Decimal(0.5 ** (index / HALF_LIFE)) for index in range(len(rates))]
    rate = sum(w * r for w, r in zip(weights, rates, strict=True)) / sum(weights)
    spread = (max(rates) - min(rates)) / rate
    confidence = "good" if len(rates) >= GOOD_SPELLS and spread <= Decimal(str(GOOD_SPREAD)) else "rough"
    last = found[0]
    runs_out_at = last.at + timedelta(days=float(last.units / rate))
    used = rate * Decimal(max(0.0, (now - last.at).total_seconds())) / Decimal(86400)
    left = max(Decimal(0), last.units - used)
    return RunOut(daily_units=rate.quantize(Decimal("0.1")), units_left=left.quantize(Decimal("0.1")),
                  runs_out_at=runs_out_at, last_top_up_at=last.at, spells=len(rates), confidence=confidence)


def predictions_for(user_id: int, now: datetime) -> dict[int, RunOut]:
    """Each of the resident's prepaid meters with a prediction: account id -> RunOut, one query
    (each meter's latest succeeded vends that report units)."""
    meters = (access.own_utility_accounts(user_id).where(UtilityAccount.meter_type == "prepaid")
              .with_only_columns(UtilityAccount.id))
    newest = func.row_number().over(partition_by=Payment.utility_account_id,
                                    order_by=(Payment.created_at.desc(), Payment.id.desc())).label("newest")
    vends = (select(Payment.utility_account_id, Payment.created_at, Payment.units, newest)
             .where(Payment.user_id == user_id, Payment.utility_account_id.in_(meters),
                    Payment.status == PaymentStatus.SUCCEEDED.value, Payment.units.is_not(None))
             .subquery())
    rows = db.session.execute(
        select(vends.c.utility_account_id, vends.c.created_at, vends.c.units)
        .where(vends.c.newest <= HISTORY * 3).order_by(vends.c.utility_account_id, vends.c.newest)
    ).all()
    by_meter: dict[int, list[Vend]] = defaultdict(list)
    for account_id, at, units in rows:
        value = units_of(units)
        if value is not None:
            by_meter[account_id].append(Vend(at=at, units=value))
    found = {}
    for account_id, history in by_meter.items():
        result = predict(history, now)
        if result is not None:
            found[account_id] = result
    return found
