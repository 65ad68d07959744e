"""Keep my meter topped up: a ``run_out`` automation buys before its prepaid meter is predicted to
run out (``services.meter_usage``), instead of on dates.

Its next run is the predicted run-out less the automation's lead time, never before now, on a whole
minute (occurrences are keyed by the minute). The sweep pays it like any run (limits, caps, the
minimum balance, priority, partial payments and notices all apply), and it then has no next run
(``next_run_at`` NULL) until ``refresh``, at the start of every sweep, plans one again:

- once the run's payment succeeded, from the meter's top-ups with the new one among them;
- once the run ended without a purchase (refused, stopped by a limit, missed for want of money,
  skipped at the resident's request), ``RETRY_AFTER`` (or ``RETRY_AFTER_LIMIT`` after a limit)
  after it ended, so a meter that still needs a top-up is tried again without a notice a minute;
- whenever the meter got a top-up after the plan was made (the resident bought one themselves),
  which moves the run-out later.

The amount is the automation's fixed amount, or "enough for N days": the predicted daily usage times
N at the meter's recent price per kWh, rounded up to whole ₦100 and kept within the provider's
limits. Without enough top-ups to predict from, the daily usage the resident entered stands in,
counted from the latest top-up; without any top-up nothing can be planned and the form says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import exists, or_, select

from webapp.extensions import db
from webapp.models import Payment, PaymentStatus
from webapp.models.automation import Automation, AutomationOccurrence, OccurrenceStatus
from webapp.services import meter_usage
from webapp.services.automations.schedules import RUN_OUT
from webapp.services.meter_usage import RunOut, Vend

RETRY_AFTER = timedelta(hours=6)
RETRY_AFTER_LIMIT = timedelta(hours=24)
FINAL = (PaymentStatus.SUCCEEDED.value, PaymentStatus.FAILED.value, PaymentStatus.CANCELLED.value,
         PaymentStatus.REFUNDED.value)
ONE_TOP_UP = ("This meter has only one top-up, too few to predict from. Enter how many kWh a day it uses, "
              "or buy one more top-up first.")
NO_TOP_UP = ("This meter has no top-up with its units yet, so there is nothing to predict from. "
             "Buy one top-up first, then set this up.")


@dataclass(frozen=True)
class Forecast:
    run_out: RunOut
    next_at: datetime  # when the next top-up is bought
    amount_kobo: int | None  # one top-up (None: "enough for N days" without a known price)
    units: Decimal | None  # kWh one top-up buys at the recent price
    every: timedelta | None  # how long one top-up lasts at the predicted usage

    @property
    def sure_words(self) -> str:
        return self.run_out.sure_words


def forecast(automation: Automation, vends: list[Vend], now: datetime) -> Forecast | None:
    """The plan for ``automation`` from its meter's vends (newest first); None when nothing can be
    predicted (no top-up, or a single one and no daily usage entered)."""
    run_out = meter_usage.predict(vends, now)
    if run_out is None and automation.daily_units:
        run_out = meter_usage.from_daily_usage(vends, Decimal(automation.daily_units), now)
    if run_out is None or run_out.daily_units <= 0:
        return None
    price = meter_usage.price_per_unit(vends)
    amount = _amount(automation, run_out, price)
    units = Decimal(amount) / price if amount and price else None
    every = timedelta(days=float(units / run_out.daily_units)) if units else None
    lead = timedelta(hours=automation.lead_hours or 0)
    return Forecast(run_out=run_out, next_at=_minute_after(max(now, run_out.runs_out_at - lead)),
                    amount_kobo=amount, units=units.quantize(Decimal("0.1")) if units else None, every=every)


def forecast_for(automation: Automation, now: datetime) -> Forecast | None:
    """``forecast`` with the meter's vends read (one query)."""
    vends = meter_usage.vends_by_meter(automation.user_id, [automation.utility_account_id])
    return forecast(automation, vends.get(automation.utility_account_id, []), now)


def forecasts_for(automations: list[Automation], now: datetime) -> dict[int, Forecast]:
    """automation id -> forecast of the resident's ``run_out`` automations, one query per resident."""
    mine = [a for a in automations if a.schedule_kind == RUN_OUT and a.utility_account_id]
    found: dict[int, Forecast] = {}
    for user_id in {a.user_id for a in mine}:
        vends = meter_usage.vends_by_meter(user_id, {a.utility_account_id for a in mine if a.user_id == user_id})
        for automation in (a for a in mine if a.user_id == user_id):
            result = forecast(automation, vends.get(automation.utility_account_id, []), now)
            if result is not None:
                found[automation.id] = result
    return found


def plan_problem(user_id: int, account_id: int, daily_units: Decimal | None) -> tuple[str, str] | None:
    """(form field, why) a run_out automation cannot be planned for this meter; None when it can."""
    vends = meter_usage.vends_by_meter(user_id, [account_id]).get(account_id, [])
    if not vends:
        return "schedule_kind", NO_TOP_UP
    if meter_usage.predict(vends, vends[0].at) is None and not daily_units:
        return "daily_units", ONE_TOP_UP
    return None


def amount_now(automation: Automation, now: datetime) -> int | None:
    """What one top-up costs now (for "enough for N days"; the fixed amount otherwise)."""
    if automation.amount_mode != "cover_days":
        return automation.amount_kobo
    found = forecast_for(automation, now)
    return found.amount_kobo if found else None


def first_run(automation: Automation, now: datetime) -> datetime | None:
    found = forecast_for(automation, now)
    return found.next_at if found else None


def refresh(now: datetime) -> int:
    """Plan the next run of the ``run_out`` automations that need one (see the module's words);
    commits. Returns how many were planned."""
    newer_top_up = exists().where(Payment.utility_account_id == Automation.utility_account_id,
                                  Payment.status == PaymentStatus.SUCCEEDED.value,
                                  Payment.units.is_not(None), Payment.created_at > Automation.planned_at)
    automations = list(db.session.scalars(
        select(Automation).where(Automation.schedule_kind == RUN_OUT, Automation.enabled.is_(True),
                                 Automation.paused_at.is_(None), Automation.deleted_at.is_(None),
                                 or_(Automation.next_run_at.is_(None), Automation.planned_at.is_(None),
                                     newer_top_up))
        .order_by(Automation.id).with_for_update(skip_locked=True)
    ))
    planned = 0
    for automation in automations:
        when = _next_run(automation, now)
        if when is not None:
            automation.next_run_at = when
            automation.planned_at = now
            planned += 1
    db.session.commit()
    return planned


def _next_run(automation: Automation, now: datetime) -> datetime | None:
    """The next run for ``refresh``; None while the last run is still being paid or waits for money."""
    vends = meter_usage.vends_by_meter(automation.user_id, [automation.utility_account_id]).get(
        automation.utility_account_id, [])
    if automation.next_run_at is None:
        last = db.session.execute(
            select(AutomationOccurrence.status, AutomationOccurrence.updated_at, Payment.status, Payment.created_at,
                   Payment.units, Payment.amount_kobo)
            .outerjoin(Payment, Payment.id == AutomationOccurrence.payment_id)
            .where(AutomationOccurrence.automation_id == automation.id)
            .order_by(AutomationOccurrence.scheduled_for.desc()).limit(1)
        ).first()
        if last is not None:
            status, decided_at, payment_status, paid_at, units, amount = last
            if status == OccurrenceStatus.WAITING.value or (payment_status is not None and payment_status not in FINAL):
                return None  # the run is still waiting for money, or its purchase is not final yet
            if payment_status == PaymentStatus.SUCCEEDED.value and meter_usage.units_of(units) is None:
                # Bought, but the provider gave no units: count the top-up at the recent price, so
                # the plan never ignores a purchase it made (that would buy again at once).
                price = meter_usage.price_per_unit(vends)
                if price is None:
                    return _minute_after(now + RETRY_AFTER_LIMIT)
                vends = [Vend(at=paid_at, units=Decimal(amount) / price, amount_kobo=amount), *vends]
            elif payment_status != PaymentStatus.SUCCEEDED.value:
                wait = RETRY_AFTER_LIMIT if status == OccurrenceStatus.LIMIT_REACHED.value else RETRY_AFTER
                found = forecast(automation, vends, now)
                return None if found is None else max(found.next_at, _minute_after(decided_at + wait))
    found = forecast(automation, vends, now)
    return found.next_at if found else None


def _amount(automation: Automation, run_out: RunOut, price: Decimal | None) -> int | None:
    if automation.amount_mode != "cover_days":
        return automation.amount_kobo
    if price is None or not automation.cover_days:
        return None
    wanted = run_out.daily_units * automation.cover_days * price
    amount = math.ceil(wanted / 100_00) * 100_00  # whole ₦100, rounded up
    entry = automation.utility_account.provider if automation.utility_account else None
    if entry is not None:
        amount = max(amount, entry.min_amount_kobo or 0)
        if entry.max_amount_kobo:
            amount = min(amount, entry.max_amount_kobo)
    return amount


def _minute_after(when: datetime) -> datetime:
    """``when`` on a whole minute, never earlier."""
    whole = when.replace(second=0, microsecond=0)
    return whole if whole == when else whole + timedelta(minutes=1)
