"""What an automation is made of (``AutomationInput``) and the rules it must meet.

The automation form turns what a resident typed into an ``AutomationInput``; ``checked`` then holds
it against what only the database knows: the account is the resident's and still offered, the
provider accepts the amount, the saved card is theirs, and the schedule has runs left. Every
problem is collected with the name of the form field it belongs to, so ``AutomationError`` can be
shown next to the fields all at once. A form with problems of its own sends a partial draft to
``problems``, which checks what did parse, so the page still shows every problem together. Nothing
here writes to the database.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import SavedCard, User, UtilityAccount
from webapp.models.base import utcnow
from webapp.models.bill import CLUSTER_BILL_TYPES
from webapp.request_numbers import ENTER_AMOUNT
from webapp.services import access, catalogue
from webapp.services.automations import top_ups
from webapp.services.automations.schedules import RUN_OUT, Schedule, ScheduleError

BILL_TYPES = tuple(t.value for t in CLUSTER_BILL_TYPES)
BILL_NAMES = {"security": "Security", "maintenance": "Maintenance", "service_charge": "Service charge",
              "waste_management": "Waste management"}
TARGET_KINDS = ("utility", "estate_bill")
AMOUNT_MODES = ("fixed", "full_outstanding", "cover_days")
PAYMENT_SOURCES = ("wallet", "card")
CATCH_UPS = ("latest", "none")
PRIORITY_NUMBERS = (1, 2, 3)  # low, normal, high
START_WITHIN_DAYS = 731
CHOOSE_TARGET = "Choose one of your accounts or an estate bill."
CHOOSE_CARD = "Choose one of your saved cards."
NOT_A_METER = "Topping up before the meter runs out works only for a prepaid electricity meter."
COVER_DAYS = "Enter how many days each top-up should last, from 1 to 90."
NO_RUNS_LEFT = "This schedule has no run dates left. Move the end date later or allow more payments."


class AutomationError(ValueError):
    """Input we refuse, with one message per form field (``errors``); nothing was changed."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True)
class AutomationInput:
    """An automation as the resident chose it, ready for ``checked`` and then an ``Automation`` row.

    ``amount_kobo`` None with a fixed amount means "the plan's price"; ``saved_card_id`` None when
    paying by card means "my only saved card".

    A partial draft names in ``unread`` the boxes (by HTML name) the form could not read; their
    values stand at their defaults, ``schedule`` is None when a schedule box is among them, and the
    rules that read them are skipped. Only ``problems`` takes one.
    """

    target_kind: str
    utility_account_id: int | None
    bill_type: str | None
    schedule: Schedule | None
    amount_mode: str = "fixed"
    amount_kobo: int | None = None
    payment_source: str = "wallet"
    saved_card_id: int | None = None
    priority: int = 2
    max_per_payment_kobo: int | None = None
    allow_partial: bool = False
    partial_min_kobo: int = 0
    catch_up: str = "latest"
    daily_units: Decimal | None = None  # run_out: the resident's own daily usage (kWh)
    cover_days: int | None = None  # cover_days: top up enough for this many days
    unread: frozenset[str] = frozenset()

    def __post_init__(self):
        # The form only offers these; anything else is a programming error, not a resident's typing.
        for value, allowed in ((self.target_kind, TARGET_KINDS), (self.amount_mode, AMOUNT_MODES),
                               (self.payment_source, PAYMENT_SOURCES), (self.catch_up, CATCH_UPS),
                               (self.priority, PRIORITY_NUMBERS)):
            if value not in allowed:
                raise ValueError(f"{value!r} is not one of {allowed}")
        if self.schedule is None and not self.unread:
            raise ValueError("only a partial draft may lack its schedule")

    def row_values(self) -> dict:
        s = self.schedule
        return {
            "target_kind": self.target_kind, "utility_account_id": self.utility_account_id,
            "bill_type": self.bill_type, "amount_mode": self.amount_mode, "amount_kobo": self.amount_kobo,
            "payment_source": self.payment_source, "saved_card_id": self.saved_card_id, "priority": self.priority,
            "max_per_payment_kobo": self.max_per_payment_kobo, "allow_partial": self.allow_partial,
            "partial_min_kobo": self.partial_min_kobo, "catch_up": self.catch_up,
            "schedule_kind": s.kind, "interval_unit": s.interval_unit, "interval_count": s.interval_count,
            "day_of_month": s.day_of_month, "nth": s.nth, "weekday": s.weekday,
            "weekdays": ",".join(str(d) for d in sorted(set(s.weekdays))), "time_of_day": s.time_of_day,
            "timezone": s.timezone, "starts_on": s.starts_on, "ends_on": s.ends_on,
            "max_occurrences": s.max_occurrences, "lead_hours": s.lead_hours if s.kind == RUN_OUT else None,
            "daily_units": self.daily_units if s.kind == RUN_OUT else None,
            "cover_days": self.cover_days if self.amount_mode == "cover_days" else None,
        }


def today_in(timezone: str) -> date:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Africa/Lagos")
    return datetime.now(zone).date()


# --- schedule ---------------------------------------------------------------------------------

def start_problem(starts_on: date, today: date) -> str | None:
    """Run dates are walked from the start, so a start decades away would make every look-up slow."""
    if abs((starts_on - today).days) > START_WITHIN_DAYS:
        return "Choose a start date within two years of today."
    return None


def schedule_problem(schedule: Schedule) -> tuple[str, str] | None:
    """(field, message) when ``schedule.validate`` refuses it, else None. The field is found by
    asking ``validate`` again without each part, so the schedule rules stay in one place."""
    try:
        schedule.validate()
    except ScheduleError as exc:
        return _schedule_error_field(schedule), str(exc)
    return None


def _schedule_error_field(schedule: Schedule) -> str:
    def fine(candidate: Schedule) -> bool:
        try:
            candidate.validate()
        except ScheduleError:
            return False
        return True

    if fine(replace(schedule, timezone="UTC")):
        return "timezone"
    if fine(replace(schedule, ends_on=None)):
        return "ends_on"
    if fine(replace(schedule, max_occurrences=None)):
        return "max_occurrences"
    return {"interval": "interval_count", "monthly_day": "day_of_month", "nth_weekday": "nth",
            "weekly": "weekdays"}.get(schedule.kind, "schedule_kind")


def check_has_future_runs(schedule: Schedule, now: datetime) -> str | None:
    """The field to blame when a schedule has no run left after ``now`` (None when it has)."""
    if schedule.next_after(now, inclusive=True) is not None:
        return None
    return "max_occurrences" if schedule.max_occurrences is not None and schedule.ends_on is None else "ends_on"


# --- target, amount, source -------------------------------------------------------------------

def outstanding_problem(account: UtilityAccount) -> str | None:
    """Why "full outstanding" cannot work for this account (None when it can)."""
    entry = account.provider
    if entry.meter_type == "postpaid" and not entry.is_fixed_amount:
        return None
    what = ("a plan with a fixed price" if entry.is_fixed_amount
            else "prepaid" if entry.meter_type == "prepaid" else "paid in advance")
    return (f"“Full outstanding” needs a bill to read, so it works only for postpaid meters and estate bills. "
            f"{entry.name} is {what}; choose a fixed amount.")


def saved_cards(user_id: int) -> list[SavedCard]:
    """The resident's reusable Paystack cards (what "pay by card" may charge)."""
    return list(db.session.scalars(
        select(SavedCard).where(SavedCard.user_id == user_id, SavedCard.reusable.is_(True),
                                SavedCard.gateway == "paystack").order_by(SavedCard.id)
    ))


def _target_account(user: User, draft: AutomationInput, errors: dict[str, str]) -> UtilityAccount | None:
    """The account paid (None for an estate bill); it must be the resident's, live, and still
    offered in their estate."""
    if "target" in draft.unread:
        return None
    if draft.target_kind == "estate_bill":
        if draft.bill_type not in BILL_TYPES:
            errors.setdefault("target", CHOOSE_TARGET)
        return None
    account = None
    if draft.utility_account_id is not None:
        account = access.own_utility_account(user.id, draft.utility_account_id)
    if account is None:
        errors.setdefault("target", CHOOSE_TARGET)
        return None
    entry = account.provider
    if not entry.is_active or entry.estate_id != user.estate_id:
        errors.setdefault("target", f"{entry.name} is no longer offered in your estate.")
        return None
    return account


def _checked_amounts(draft: AutomationInput, account: UtilityAccount | None, errors: dict[str, str]) -> dict:
    entry = account.provider if account is not None else None
    amount = None
    if "amount_mode" in draft.unread or (draft.amount_mode == "fixed" and "amount" in draft.unread):
        pass  # what is paid is not known, so the rules about it wait until it is
    elif draft.amount_mode == "fixed":
        amount = draft.amount_kobo
        if amount is None and entry is not None and entry.is_fixed_amount:
            amount = entry.fixed_amount_kobo  # a plan has one price: no need to type it
        elif amount is None:
            errors.setdefault("amount", ENTER_AMOUNT)
        if amount is not None and entry is not None:
            problem = catalogue.amount_problem(entry, amount)
            if problem:
                errors.setdefault("amount", problem)
    elif draft.amount_mode == "cover_days":
        if draft.schedule is not None and draft.schedule.kind != RUN_OUT:
            errors.setdefault("amount_mode", "“Enough for a number of days” works only when topping up before the "
                                             "meter runs out; choose a fixed amount.")
        elif draft.cover_days is None and "cover_days" not in draft.unread:
            errors.setdefault("cover_days", COVER_DAYS)
    elif account is not None:
        problem = outstanding_problem(account)
        if problem:
            errors.setdefault("amount_mode", problem)
    limit = draft.max_per_payment_kobo
    if limit is not None and amount is not None and limit < amount:
        errors.setdefault("max_per_payment", "This limit is below the amount, so no payment could ever be made. "
                                             "Raise the limit or lower the amount.")
    partial_min = draft.partial_min_kobo if draft.allow_partial else 0
    if draft.allow_partial:
        if entry is not None and entry.is_fixed_amount:
            errors.setdefault("allow_partial", f"{entry.name} can only be bought at its full price, so it cannot be "
                                               "paid in part.")
        bounds = [v for v in (amount, limit) if v is not None]
        if bounds and partial_min > min(bounds):
            errors.setdefault("partial_min", "The smallest partial payment must not be more than the amount or the "
                                             "limit.")
    return {"amount_kobo": amount, "partial_min_kobo": partial_min}


def _checked_card(user: User, draft: AutomationInput, errors: dict[str, str]) -> int | None:
    if draft.payment_source != "card":
        return None
    cards = saved_cards(user.id)
    if not cards:
        errors.setdefault("payment_source", "You have no saved card yet. Fund your wallet once with Paystack to save "
                                            "your card, or pay from your wallet.")
        return None
    if "saved_card_id" in draft.unread:
        return None
    if draft.saved_card_id is None and len(cards) == 1:
        return cards[0].id
    if draft.saved_card_id not in {card.id for card in cards}:
        errors.setdefault("saved_card_id", CHOOSE_CARD)
        return None
    return draft.saved_card_id


def _reviewed(user: User, draft: AutomationInput, now: datetime) -> tuple[dict[str, str], dict]:
    """Every problem of ``draft`` by field, and the values ``checked`` fills in."""
    errors: dict[str, str] = {}
    account = _target_account(user, draft, errors)
    values = _checked_amounts(draft, account, errors)
    values["saved_card_id"] = _checked_card(user, draft, errors)
    if draft.schedule is not None:
        problem = schedule_problem(draft.schedule)
        if problem:
            errors.setdefault(*problem)
        else:
            start = start_problem(draft.schedule.starts_on, now.astimezone(draft.schedule.zone).date())
            if start:
                errors.setdefault("starts_on", start)
            if draft.schedule.kind == RUN_OUT:
                _check_meter(user, draft, account, errors)
            else:
                field = check_has_future_runs(draft.schedule, now)
                if field:
                    errors.setdefault(field, NO_RUNS_LEFT)
    return errors, values


def _check_meter(user: User, draft: AutomationInput, account: UtilityAccount | None, errors: dict[str, str]) -> None:
    """A top-up before the meter runs out needs a prepaid meter whose run-out can be predicted."""
    if draft.target_kind != "utility":
        errors.setdefault("schedule_kind", NOT_A_METER)
        return
    if account is None:
        return  # the target's own problem is shown
    if account.meter_type != "prepaid":
        errors.setdefault("schedule_kind", NOT_A_METER)
        return
    problem = top_ups.plan_problem(user.id, account.id, draft.daily_units)
    if problem:
        errors.setdefault(*problem)


def problems(user: User, draft: AutomationInput, now: datetime | None = None) -> dict[str, str]:
    """What ``checked`` would refuse in ``draft``, by field, without raising. For a form that has
    problems of its own: a partial draft is checked as far as it was read."""
    return _reviewed(user, draft, now or utcnow())[0]


def checked(user: User, draft: AutomationInput, now: datetime) -> AutomationInput:
    """``draft`` with a plan's price and the only saved card filled in, once every rule holds;
    ``AutomationError`` lists every problem found otherwise."""
    if draft.unread:
        raise ValueError("a partial draft cannot be saved; ask problems() what is wrong with it")
    errors, values = _reviewed(user, draft, now)
    if errors:
        raise AutomationError(errors)
    return replace(draft, **values)
