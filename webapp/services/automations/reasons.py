"""Why the sweep did not pay a run, in the resident's words: stored on the occurrence
(``AutomationOccurrence.reason``) and shown as they are on the "What autopay did" page."""
from __future__ import annotations

from webapp.models.automation import Automation, AutomationSettings
from webapp.money import whole_naira
from webapp.services.automations import allocation
from webapp.services.automations.allocation import Decision

WAITING_FOR_MONEY = "Waiting for money in your wallet"
WAITING_FOR_PRIORITY = "Waiting: a higher-priority payment is first in line for your wallet"
WAITING_ABOVE_MINIMUM = "Waiting: paying now would take your wallet below the {minimum} minimum balance you set"
MISSED_FOR_MONEY = "Not enough money in your wallet before the grace period ended"
MISSED_FOR_MINIMUM = ("Your wallet could not cover it above the {minimum} minimum balance you set before the "
                      "grace period ended")
LIMIT_PER_PAYMENT = "It was more than the {limit} per-payment limit you set"
LIMIT_TYPE_CAP = "Your {cap} monthly cap for {kind} was reached"
LIMIT_MONTHLY_CAP = "Your {cap} monthly cap for all automatic payments was reached"
LIMIT_ANY = "A spending limit or monthly cap did not allow this payment"

TYPE_CAP_FIELDS = {"electricity": "electricity_cap_kobo", "water": "water_cap_kobo",
                   "internet": "internet_cap_kobo", "cable_tv": "cable_tv_cap_kobo",
                   "estate_bill": "estate_bills_cap_kobo"}


def kind_words(kind: str | None) -> str:
    return {"estate_bill": "estate bills", "cable_tv": "cable TV", None: "other payments"}.get(
        kind, (kind or "").replace("_", " "))


def waiting(decision: Decision, settings: AutomationSettings) -> str:
    if decision.outcome == allocation.HELD_FOR_PRIORITY:
        return WAITING_FOR_PRIORITY
    if decision.stopped_by == allocation.MIN_BALANCE and settings.min_balance_kobo:
        return WAITING_ABOVE_MINIMUM.format(minimum=whole_naira(settings.min_balance_kobo))
    return WAITING_FOR_MONEY


def missed(waiting_reason: str | None, settings: AutomationSettings) -> str:
    """The grace period ended: why, after what the run last waited for."""
    minimum = whole_naira(settings.min_balance_kobo)
    if settings.min_balance_kobo and waiting_reason == WAITING_ABOVE_MINIMUM.format(minimum=minimum):
        return MISSED_FOR_MINIMUM.format(minimum=minimum)
    return MISSED_FOR_MONEY


def limit_reached(decision: Decision, automation: Automation, settings: AutomationSettings) -> str:
    stopped_by, kind = decision.stopped_by, _utility_type(automation)
    if stopped_by == allocation.PER_PAYMENT_LIMIT and automation.max_per_payment_kobo:
        return LIMIT_PER_PAYMENT.format(limit=whole_naira(automation.max_per_payment_kobo))
    cap = getattr(settings, TYPE_CAP_FIELDS.get(kind, ""), None)
    if stopped_by == allocation.TYPE_CAP and cap is not None:
        return LIMIT_TYPE_CAP.format(cap=whole_naira(cap), kind=kind_words(kind))
    if stopped_by == allocation.MONTHLY_CAP and settings.monthly_cap_kobo is not None:
        return LIMIT_MONTHLY_CAP.format(cap=whole_naira(settings.monthly_cap_kobo))
    return LIMIT_ANY


def _utility_type(automation: Automation) -> str | None:
    if automation.target_kind == "estate_bill":
        return "estate_bill"
    account = automation.utility_account
    return account.provider.provider_type if account is not None else None
