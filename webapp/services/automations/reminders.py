"""Reminders before each automatic payment, sent once per occurrence (the dedup key says which)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models.automation import Automation, AutomationSettings
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.services import ledger, notify
from webapp.services.automations import allocation, top_ups
from webapp.services.automations.common import automation_spend_this_month, settings_for
from webapp.services.automations.schedules import RUN_OUT
from webapp.services.automations.targets import target_for

MAX_LEAD = timedelta(days=7)


def send_reminders(now: datetime | None = None) -> int:
    """Remind residents of runs due within their lead time. Safe to run twice: dedup keys."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Automation).where(Automation.enabled.is_(True), Automation.paused_at.is_(None),
                                 Automation.deleted_at.is_(None), Automation.next_run_at > now,
                                 Automation.next_run_at <= now + MAX_LEAD)
    ).all()
    sent = 0
    for automation in candidates:
        settings = settings_for(automation.user_id)
        if settings.reminder_lead_hours <= 0 or automation.next_run_at > now + timedelta(
                hours=settings.reminder_lead_hours):
            continue
        when = automation.next_run_at
        what = (automation.utility_account.nickname if automation.utility_account is not None
                else f"your {automation.bill_type.replace('_', ' ')} bill")
        action = "will be skipped, as you asked" if automation.skip_next else "will run"
        title, body = "Upcoming automatic payment", f"The automatic payment for {what} {action} at " \
                                                    f"{_local(when, automation.timezone)}."
        if automation.schedule_kind == RUN_OUT:
            title, body = "Meter top-up coming", top_up_notice(automation, settings, now)
        used = notify.notify(
            automation.user_id, notify.NotificationEvent.PAYMENT_UPCOMING, title=title, body=body,
            link="/automations/upcoming", dedup_key=f"reminder:{automation.id}:{when:%Y%m%dT%H%MZ}",
        )
        sent += bool(used)
    db.session.commit()
    notify.enqueue_pending_emails()
    return sent


def top_up_notice(automation: Automation, settings: AutomationSettings, now: datetime) -> str:
    """The notice before a meter's top-up: when the meter runs out, when the top-up is bought and
    what it costs, or why it cannot be (a limit or cap, or the wallet), as the sweep would decide
    it now by itself (other payments due first may still take the money)."""
    meter, zone = automation.utility_account.nickname, automation.timezone
    found = top_ups.forecast_for(automation, now)
    runs_out = f" is predicted to run out around {_local(found.run_out.runs_out_at, zone)}" if found else " runs low"
    if automation.skip_next:
        return f"{meter}{runs_out}. Its top-up at {_local(automation.next_run_at, zone)} will be skipped, as you asked."
    target = target_for(automation)
    if target.amount_kobo <= 0:
        return f"{meter}{runs_out}, but its top-up cannot be worked out: {target.problem or 'nothing to pay'}."
    cost = naira(target.amount_kobo + target.fee_kobo)
    said = f"{meter}{runs_out}. A top-up of {naira(target.amount_kobo)} ({cost} with the fee) will be bought at " \
           f"{_local(automation.next_run_at, zone)}."
    request = allocation.request_for(automation, target)
    balance = ledger.wallet_balance(automation.user_id)
    from_wallet = automation.payment_source == "wallet"
    spent = automation_spend_this_month(automation.user_id, now, zone)
    decision, = allocation.decide_runs([request] if from_wallet else [], [] if from_wallet else [request],
                                       wallet_balance_kobo=balance, min_balance_kobo=settings.min_balance_kobo,
                                       spent_kobo=spent, type_caps_kobo=settings.type_caps(),
                                       monthly_cap_kobo=settings.monthly_cap_kobo)
    if decision.outcome == allocation.FULL:
        return said
    if decision.outcome == allocation.LIMIT_REACHED:
        return f"{said} It cannot be bought: a spending limit or monthly cap would stop it. Change your caps " \
               f"or the automation's limit to let it through."
    short = target.amount_kobo + target.fee_kobo + settings.min_balance_kobo - balance
    if decision.outcome == allocation.PARTIAL:
        return f"{said} Only {naira(decision.amount_kobo)} of it fits your wallet and limits now."
    return f"{said} Your wallet cannot cover it: add {naira(max(short, 0))} before then."


def _local(when: datetime, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo(timezone)).strftime("%a %d %b, %H:%M")
