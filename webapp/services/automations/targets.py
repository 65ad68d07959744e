"""What each automation wants to pay now: a fixed amount, or the full outstanding amount that the
provider (or the estate's open bill) reports. Provider calls happen here, before the sweep locks."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Bill
from webapp.models.automation import Automation, AutomationOccurrence, OccurrenceStatus
from webapp.models.base import utcnow
from webapp.models.bill import OPEN_BILL_STATUSES
from webapp.providers import registry
from webapp.providers.base import ProviderError
from webapp.services.automations import top_ups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    amount_kobo: int
    utility_type: str
    fee_kobo: int = 0
    min_kobo: int = 0
    fixed_price: bool = False
    bill_id: int | None = None
    problem: str | None = None  # why nothing can be paid (amount 0)
    retry: bool = False  # the problem may clear by itself (provider unreachable): keep waiting


def desired_amounts(user_ids: list[int], now: datetime) -> dict[int, Target]:
    """Targets of these residents' automations that are due now or have an occurrence waiting,
    read at once (the sweep asks for a chunk of residents)."""
    waiting = select(AutomationOccurrence.automation_id).where(
        AutomationOccurrence.user_id.in_(user_ids), AutomationOccurrence.status == OccurrenceStatus.WAITING.value)
    automations = db.session.scalars(
        select(Automation).where(Automation.user_id.in_(user_ids), Automation.deleted_at.is_(None),
                                 or_(Automation.next_run_at <= now, Automation.id.in_(waiting)))
        .options(selectinload(Automation.utility_account))  # with its catalogue entry (joined): no query each
    ).all()
    return {automation.id: target_for(automation) for automation in automations}


def target_for(automation: Automation) -> Target:
    if automation.target_kind == "estate_bill":
        return _estate_bill_target(automation)
    account = automation.utility_account
    if account is None or account.removed_at is not None:
        return Target(0, "other", problem="The linked account was removed")
    entry = account.provider
    if not entry.is_active:
        return Target(0, entry.provider_type, problem=f"{entry.name} is no longer offered in your estate")
    base = {"utility_type": entry.provider_type, "fee_kobo": entry.fee_kobo, "min_kobo": entry.min_amount_kobo,
            "fixed_price": entry.is_fixed_amount}
    if automation.amount_mode == "fixed":
        return Target(automation.amount_kobo, **base)
    if automation.amount_mode == "cover_days":  # "enough for N days" at the meter's predicted usage
        amount = top_ups.amount_now(automation, utcnow())
        if not amount:
            return Target(0, problem="Not enough top-ups of this meter to work out the amount", **base)
        return Target(amount, **base)
    try:
        info = registry.utility_service(entry.api_provider, current_app.config).validate_customer(
            entry, account.customer_number)
    except ProviderError as err:
        log.info("automation %s: outstanding amount unavailable: %s", automation.id, err.error_type)
        return Target(0, problem="The provider did not report the outstanding amount", retry=err.is_transient,
                      **base)
    if not info.outstanding_kobo:
        return Target(0, problem="Nothing outstanding", **base)
    return Target(info.outstanding_kobo, **base)


def _estate_bill_target(automation: Automation) -> Target:
    bill = db.session.scalar(
        select(Bill).where(Bill.user_id == automation.user_id, Bill.bill_type == automation.bill_type,
                           Bill.status.in_(OPEN_BILL_STATUSES))
        .order_by(Bill.due_date.is_(None), Bill.due_date, Bill.id).limit(1)
    )
    if bill is None:
        return Target(0, "estate_bill", problem="No open estate bill of this kind")
    amount = bill.outstanding_kobo
    if automation.amount_mode == "fixed":
        amount = min(amount, automation.amount_kobo)
    return Target(amount, "estate_bill", bill_id=bill.id)
