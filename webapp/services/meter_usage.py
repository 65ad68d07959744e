"""When a prepaid meter will probably run out, from the meter's own purchases.

Each vend's units come from the provider's answer (``Payment.units``, "32.5 kWh" or "32.5"). A
meter's daily usage over the time between two top-ups is the units of the earlier one spread over
the days until the next: residents top up when the meter is low, so a vend lasts until the next.
Vends less than ``SAME_TOP_UP`` apart are one top-up (a resident who buys twice in an evening). The
rate is a mean of those spells weighted to the recent past (each spell counts half as much as the
one ``HALF_LIFE`` spells after it), so a change in usage shows within a few top-ups. What is left
is the latest top-up less what the rate says was used since; the meter runs out when that is gone.

A top-up bought by "keep my meter topped up" comes ``lead`` ahead of the predicted run-out, so the
meter still held about ``rate x lead`` then: that carry is counted in the spell before it (less was
used than bought) and in the one it starts (more was there to use). Without it, every early
purchase would look like faster usage, the next would come earlier still, and the automation would
run away; with it, a meter topped up only by the automation keeps the rate it had, and a top-up
the resident makes when the meter is empty corrects it. The rate and the carries depend on each
other, so the rate is found by repeating the calculation until it settles.

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
from webapp.models import Automation, AutomationOccurrence, Payment, PaymentStatus, UtilityAccount
from webapp.services import access

HISTORY = 10  # top-ups read per meter
HALF_LIFE = 3  # spells: a spell's weight halves every this many spells back
SAME_TOP_UP = timedelta(hours=12)
GOOD_SPELLS = 3
GOOD_SPREAD = 0.35  # largest and smallest spell rate within this share of the mean rate
SETTLE_ROUNDS = 20
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Vend:
    at: datetime
    units: Decimal  # kWh
    amount_kobo: int = 0  # what the vend cost (the token's price, fee excluded)
    lead: timedelta = timedelta(0)  # bought this long before the predicted run-out (an automation's lead)


@dataclass(frozen=True)
class RunOut:
    daily_units: Decimal  # kWh a day, rounded to 0.1
    units_left: Decimal  # kWh now, rounded to 0.1, never below 0
    runs_out_at: datetime
    last_top_up_at: datetime
    spells: int  # how many spells between top-ups the rate rests on
    confidence: str  # "good" | "rough" | "entered" (the resident's own daily usage)

    def days_left(self, now: datetime) -> float:
        return max(0.0, (self.runs_out_at - now).total_seconds() / 86400)

    @property
    def sure_words(self) -> str:
        if self.confidence == "entered":
            return "from the daily usage you entered"
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
            merged[-1] = Vend(at=vend.at, units=merged[-1].units + vend.units,
                              amount_kobo=merged[-1].amount_kobo + vend.amount_kobo, lead=vend.lead)
        else:
            merged.append(vend)
    return merged


def predict(vends_newest_first: Sequence[Vend], now: datetime) -> RunOut | None:
    """When the meter runs out, from its vends newest first; None with fewer than two top-ups."""
    found = top_ups(vends_newest_first)[:HISTORY]
    if len(found) < 2:
        return None
    weights = [Decimal(0.5 ** (index / HALF_LIFE)) for index in range(len(found) - 1)]
    rate = _mean(_spell_rates(found, Decimal(0)), weights)
    for _ in range(SETTLE_ROUNDS):
        rates = _spell_rates(found, rate)
        settled, rate = rate, _mean(rates, weights)
        if abs(rate - settled) < Decimal("0.001"):
            break
    rates = _spell_rates(found, rate)
    spread = (max(rates) - min(rates)) / rate
    confidence = "good" if len(rates) >= GOOD_SPELLS and spread <= Decimal(str(GOOD_SPREAD)) else "rough"
    last = found[0]
    held = last.units + _carry(last, rate)
    runs_out_at = last.at + timedelta(days=float(held / rate))
    used = rate * Decimal(max(0.0, (now - last.at).total_seconds())) / Decimal(86400)
    left = max(Decimal(0), held - used)
    return RunOut(daily_units=rate.quantize(Decimal("0.1")), units_left=left.quantize(Decimal("0.1")),
                  runs_out_at=runs_out_at, last_top_up_at=last.at, spells=len(rates), confidence=confidence)


def _carry(vend: Vend, rate: Decimal) -> Decimal:
    """kWh the meter still held when ``vend`` was bought (its lead at ``rate``)."""
    return rate * Decimal(vend.lead.total_seconds()) / Decimal(86400)


def _spell_rates(found: Sequence[Vend], rate: Decimal) -> list[Decimal]:
    """kWh a day used between each top-up and the next, newest spell first, at ``rate`` for the carries."""
    rates = []
    for later, earlier in zip(found, found[1:], strict=False):
        days = Decimal((later.at - earlier.at).total_seconds()) / Decimal(86400)
        used = earlier.units + _carry(earlier, rate) - _carry(later, rate)
        rates.append(max(used, Decimal("0.1") * days) / days)  # never below 0.1 kWh a day
    return rates


def _mean(values: Sequence[Decimal], weights: Sequence[Decimal]) -> Decimal:
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def from_daily_usage(vends_newest_first: Sequence[Vend], daily_units: Decimal, now: datetime) -> RunOut | None:
    """The run-out at a daily usage the resident entered, from the latest top-up; None without one."""
    found = top_ups(vends_newest_first)
    if not found or daily_units <= 0:
        return None
    last = found[0]
    held = last.units + _carry(last, daily_units)
    used = daily_units * Decimal(max(0.0, (now - last.at).total_seconds())) / Decimal(86400)
    return RunOut(daily_units=daily_units.quantize(Decimal("0.1")),
                  units_left=max(Decimal(0), held - used).quantize(Decimal("0.1")),
                  runs_out_at=last.at + timedelta(days=float(held / daily_units)), last_top_up_at=last.at,
                  spells=0, confidence="entered")


def price_per_unit(vends_newest_first: Sequence[Vend]) -> Decimal | None:
    """Kobo per kWh over the latest ``HISTORY`` top-ups (None without units or prices)."""
    found = [v for v in top_ups(vends_newest_first)[:HISTORY] if v.amount_kobo > 0]
    units = sum((v.units for v in found), Decimal(0))
    return Decimal(sum(v.amount_kobo for v in found)) / units if units else None


def vends_by_meter(user_id: int, account_ids=None) -> dict[int, list[Vend]]:
    """The latest succeeded vends that report units, newest first, of the resident's prepaid meters
    (or of ``account_ids`` among them), in one query."""
    meters = (access.own_utility_accounts(user_id).where(UtilityAccount.meter_type == "prepaid")
              .with_only_columns(UtilityAccount.id))
    if account_ids is not None:
        meters = meters.where(UtilityAccount.id.in_(list(account_ids)))
    newest = func.row_number().over(partition_by=Payment.utility_account_id,
                                    order_by=(Payment.created_at.desc(), Payment.id.desc())).label("newest")
    # A top-up bought by a "before the meter runs out" automation carries that automation's lead.
    lead = (select(Automation.lead_hours)
            .join(AutomationOccurrence, AutomationOccurrence.automation_id == Automation.id)
            .where(AutomationOccurrence.payment_id == Payment.id, Automation.schedule_kind == "run_out")
            .scalar_subquery())
    vends = (select(Payment.utility_account_id, Payment.created_at, Payment.units, Payment.amount_kobo,
                    lead.label("lead_hours"), newest)
             .where(Payment.user_id == user_id, Payment.utility_account_id.in_(meters),
                    Payment.status == PaymentStatus.SUCCEEDED.value, Payment.units.is_not(None))
             .subquery())
    rows = db.session.execute(
        select(vends.c.utility_account_id, vends.c.created_at, vends.c.units, vends.c.amount_kobo,
               vends.c.lead_hours)
        .where(vends.c.newest <= HISTORY * 3).order_by(vends.c.utility_account_id, vends.c.newest)
    ).all()
    by_meter: dict[int, list[Vend]] = defaultdict(list)
    for account_id, at, units, amount, lead_hours in rows:
        value = units_of(units)
        if value is not None:
            by_meter[account_id].append(Vend(at=at, units=value, amount_kobo=amount,
                                             lead=timedelta(hours=lead_hours or 0)))
    return dict(by_meter)


def predictions_for(user_id: int, now: datetime) -> dict[int, RunOut]:
    """Each of the resident's prepaid meters with a prediction: account id -> RunOut, one query."""
    found = {}
    for account_id, history in vends_by_meter(user_id).items():
        result = predict(history, now)
        if result is not None:
            found[account_id] = result
    return found
