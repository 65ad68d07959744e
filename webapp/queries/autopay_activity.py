"""The "What autopay did" page: one month of a resident's automation runs, newest first, each with
what became of it and why, and the month's totals (``services.automations.activity`` counts)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import contains_eager, joinedload, lazyload, load_only

from webapp.extensions import db
from webapp.models import Bill, Payment, User
from webapp.models.automation import Automation, AutomationOccurrence
from webapp.models.base import utcnow
from webapp.queries.history import STATUS_LABELS
from webapp.services.automations import activity
from webapp.services.automations.activity import Month, MonthTotals

PER_PAGE = 20
# A payment made this much after its run was due was paid on a later try (it waited for money,
# or the sweep caught up after downtime).
LATER_TRY_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class ActivityRow:
    when: datetime  # when it happened: the payment's time, else the run's due time
    due_at: datetime
    label: str  # what it pays: an account's nickname, or the estate bill
    detail: str | None  # the account's masked number, or the estate bill's title
    utility_type: str | None
    outcome: str
    outcome_label: str
    badge: str
    reason: str | None
    amount_kobo: int | None
    payment_id: int | None
    by_card: bool
    later_try: bool


@dataclass(frozen=True)
class ActivityView:
    month: Month
    this_month: Month
    timezone: str
    totals: MonthTotals
    pagination: Pagination
    rows: list[ActivityRow]


def activity_view(user: User, month: Month | None, page: int = 1, now: datetime | None = None,
                  per_page: int = PER_PAGE) -> ActivityView:
    """The resident's runs in ``month`` (default: this month in their zone), one page of them."""
    timezone = user.effective_timezone
    this_month = Month.containing(now or utcnow(), timezone)
    month = month or this_month
    start, end = month.window(timezone)
    query = (activity.runs_between(start, end)
             .where(AutomationOccurrence.user_id == user.id)
             .options(contains_eager(AutomationOccurrence.payment).options(
                          load_only(Payment.id, Payment.status, Payment.status_reason, Payment.amount_kobo,
                                    Payment.utility_type, Payment.created_at, Payment.details, Payment.bill_id),
                          joinedload(Payment.bill).load_only(Bill.title).lazyload("*"),
                          lazyload(Payment.events), lazyload(Payment.utility_account)),
                      joinedload(AutomationOccurrence.automation).options(
                          load_only(Automation.id, Automation.target_kind, Automation.bill_type),
                          joinedload(Automation.utility_account), lazyload(Automation.user)))
             .order_by(activity.happened_at().desc(), AutomationOccurrence.id.desc()))
    pagination = db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False, count=True)
    return ActivityView(month=month, this_month=this_month, timezone=timezone,
                        totals=activity.totals_of([user.id], start, end)[user.id], pagination=pagination,
                        rows=[_row(occ) for occ in pagination.items])


def _row(occ: AutomationOccurrence) -> ActivityRow:
    payment, automation = occ.payment, occ.automation
    account = automation.utility_account
    if account is not None:
        label, detail, kind = account.nickname, account.masked_number, account.utility_type
    else:
        label = f"{(automation.bill_type or 'estate').replace('_', ' ').capitalize()} bill"
        detail, kind = (payment.bill_title if payment is not None else None), "estate_bill"
    outcome = activity.outcome_of(occ.status, payment.status if payment is not None else None)
    later_try = payment is not None and payment.created_at - occ.scheduled_for > LATER_TRY_AFTER
    return ActivityRow(
        when=payment.created_at if payment is not None else occ.scheduled_for, due_at=occ.scheduled_for,
        label=label, detail=detail, utility_type=kind, outcome=outcome,
        outcome_label=(activity.OCCURRENCE_LABELS.get(occ.status, activity.OUTCOME_LABELS[outcome])
                       if payment is None else activity.OUTCOME_LABELS[outcome]),
        badge=activity.OUTCOME_BADGES[outcome], reason=_reason(occ, outcome),
        amount_kobo=payment.amount_kobo if payment is not None else None,
        payment_id=payment.id if payment is not None else None,
        by_card=bool(payment is not None and (payment.details or {}).get("card_id")), later_try=later_try,
    )


def _reason(occ: AutomationOccurrence, outcome: str) -> str | None:
    payment = occ.payment
    if payment is None:
        return occ.reason
    if outcome == activity.HELD:
        return payment.status_reason or activity.HELD_WORDS
    if outcome == activity.IN_PROGRESS:
        return STATUS_LABELS.get(payment.status)
    if outcome == activity.PAID:
        return occ.reason  # "Partial payment", or nothing to add
    return payment.status_reason
