"""What a resident typed on the automation form, parsed and checked against every rule.

The form arrives as raw text (``request.form`` or a plain dict, as tests send it). Every problem
is collected with the name of the field it belongs to, so the page can show all of them next to
their fields at once; ``AutomationError`` carries them. Nothing here writes to the database.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import SavedCard, User, UtilityAccount
from webapp.models.bill import CLUSTER_BILL_TYPES
from webapp.request_numbers import parse_count, parse_id, parse_naira
from webapp.services import catalogue, utility_accounts
from webapp.services.automations.schedules import KINDS, UNITS, Schedule, ScheduleError

PRIORITIES = {"high": 3, "normal": 2, "low": 1}
BILL_TYPES = tuple(t.value for t in CLUSTER_BILL_TYPES)
BILL_NAMES = {"security": "Security", "maintenance": "Maintenance", "service_charge": "Service charge",
              "waste_management": "Waste management"}
SCHEDULE_FIELDS = ("schedule_kind", "interval_unit", "interval_count", "day_of_month", "nth", "weekday", "weekdays",
                   "time_of_day", "timezone", "starts_on", "ends_on", "max_occurrences")
MAX_COUNT = 1000
START_WITHIN_DAYS = 731
CHOOSE_TARGET = "Choose one of your accounts or an estate bill."


class AutomationError(ValueError):
    """Input we refuse, with one message per form field (``errors``); nothing was changed."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True)
class AutomationInput:
    """Checked values, ready to be written to an ``Automation`` row."""

    target_kind: str
    utility_account_id: int | None
    bill_type: str | None
    amount_mode: str
    amount_kobo: int | None
    payment_source: str
    saved_card_id: int | None
    priority: int
    max_per_payment_kobo: int | None
    allow_partial: bool
    partial_min_kobo: int
    catch_up: str
    schedule: Schedule

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
            "max_occurrences": s.max_occurrences,
        }


class _Reader:
    """Reads raw form values and collects the first problem per field."""

    def __init__(self, data: Mapping):
        self.data = data
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        return str(value or "").strip()[:100]

    def many(self, name: str) -> list[str]:
        if hasattr(self.data, "getlist"):
            values = self.data.getlist(name)
        else:
            values = self.data.get(name) or []
            values = values.split(",") if isinstance(values, str) else list(values)
        return [str(v).strip() for v in values if str(v).strip()]

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def choice(self, name: str, allowed, message: str, default: str | None = None) -> str | None:
        value = self.text(name) or default
        if value not in allowed:
            self.fail(name, message)
            return None
        return value

    def whole(self, name: str, message: str, low: int, high: int, required: bool = True) -> int | None:
        value = self.text(name)
        if not value and not required:
            return None
        number = parse_count(value, low, high)
        if number is None:
            self.fail(name, message)
        return number

    def naira(self, name: str, required: bool = False) -> int | None:
        value = self.text(name)
        if not value and not required:
            return None
        try:
            return parse_naira(value)
        except ValueError as exc:
            self.fail(name, str(exc))
            return None

    def day(self, name: str, default: date | None = None) -> date | None:
        value = self.text(name)
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(name, "Enter a date like 2025-01-31.")
            return None

    def clock(self, name: str, default: time) -> time | None:
        value = self.text(name)
        if not value:
            return default
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            self.fail(name, "Enter a time like 09:00.")
            return None
        return parsed.replace(second=0, microsecond=0, tzinfo=None)

    def checked(self, name: str) -> bool:
        return self.text(name).lower() in ("1", "y", "yes", "on", "true")


def naira_text(kobo: int | None) -> str:
    """Kobo as the plain text a naira box shows and ``parse_naira`` reads back: 500000 -> "5000"."""
    if kobo is None:
        return ""
    naira, rest = divmod(kobo, 100)
    return f"{naira}.{rest:02d}" if rest else str(naira)


def today_in(timezone: str) -> date:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Africa/Lagos")
    return datetime.now(zone).date()


# --- schedule ---------------------------------------------------------------------------------

def read_schedule(user: User, form: _Reader) -> Schedule | None:
    """The schedule the form describes, or None with the problems recorded on ``form``."""
    kind = form.choice("schedule_kind", KINDS, "Choose how often this should run.", default="monthly_day")
    timezone = form.text("timezone") or user.effective_timezone
    today = today_in(timezone)
    starts_on = form.day("starts_on", default=today)
    if starts_on is not None and abs((starts_on - today).days) > START_WITHIN_DAYS:
        # Run dates are walked from the start, so a start decades away would make every look-up slow.
        form.fail("starts_on", "Choose a start date within two years of today.")
        starts_on = None
    time_of_day = form.clock("time_of_day", default=time(9, 0))
    values: dict = {}
    if kind == "interval":
        values["interval_unit"] = form.choice("interval_unit", UNITS, "Choose days, weeks or months.")
        values["interval_count"] = form.whole("interval_count", "Repeat every 1 to 366 days, weeks or months.", 1, 366)
    elif kind == "monthly_day":
        values["day_of_month"] = form.whole("day_of_month", "Choose a day of the month from 1 to 31.", 1, 31)
    elif kind == "nth_weekday":
        values["nth"] = form.whole("nth", "Choose first, second, third, fourth or last.", -1, 4)
        values["weekday"] = form.whole("weekday", "Choose a day of the week.", 0, 6)
    elif kind == "weekly":
        days = [parse_count(d, 0, 6) for d in form.many("weekdays")]
        if not days or None in days:
            form.fail("weekdays", "Choose at least one day of the week.")
        else:
            values["weekdays"] = tuple(sorted(set(days)))
    ends_on = form.day("ends_on")
    max_occurrences = form.whole("max_occurrences", f"Enter a number of payments from 1 to {MAX_COUNT}, or leave it "
                                 "empty.", 1, MAX_COUNT, required=False)
    if ends_on is not None and max_occurrences is not None:
        form.fail("max_occurrences", "Choose an end date or a number of payments, not both.")
    if form.errors.keys() & set(SCHEDULE_FIELDS) or kind is None or starts_on is None or time_of_day is None:
        return None
    schedule = Schedule(kind=kind, starts_on=starts_on, time_of_day=time_of_day, timezone=timezone,
                        ends_on=ends_on, max_occurrences=max_occurrences, **values)
    try:
        schedule.validate()
    except ScheduleError as exc:
        form.fail(_schedule_error_field(schedule), str(exc))
        return None
    return schedule


def _schedule_error_field(schedule: Schedule) -> str:
    """Which field a ``ScheduleError`` is about, found by asking ``validate`` again without each
    part (so the schedule rules stay in one place)."""
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

def read_target(user: User, form: _Reader) -> tuple[str | None, UtilityAccount | None, str | None]:
    """("utility", account, None) or ("estate_bill", None, bill_type); the account must be the
    resident's, live, and still offered in their estate."""
    kind, _, value = form.text("target").partition(":")
    if kind == "bill" and value in BILL_TYPES:
        return "estate_bill", None, value
    account_id = parse_id(value) if kind == "account" else None
    if account_id is not None:
        account = utility_accounts.get_account(user.id, account_id)
        if account is not None:
            entry = account.provider
            if not entry.is_active or entry.estate_id != user.estate_id:
                form.fail("target", f"{entry.name} is no longer offered in your estate.")
                return None, None, None
            return "utility", account, None
    form.fail("target", CHOOSE_TARGET)
    return None, None, None


def outstanding_problem(account: UtilityAccount) -> str | None:
    """Why "full outstanding" cannot work for this account (None when it can)."""
    entry = account.provider
    if entry.meter_type == "postpaid" and not entry.is_fixed_amount:
        return None
    what = ("a plan with a fixed price" if entry.is_fixed_amount
            else "prepaid" if entry.meter_type == "prepaid" else "paid in advance")
    return (f"“Full outstanding” needs a bill to read, so it works only for postpaid meters and estate bills. "
            f"{entry.name} is {what}; choose a fixed amount.")


def read_amounts(form: _Reader, account: UtilityAccount | None, target_kind: str | None) -> dict:
    mode = form.choice("amount_mode", ("fixed", "full_outstanding"), "Choose a fixed amount or the full outstanding.",
                       default="fixed")
    entry = account.provider if account is not None else None
    amount = None
    if mode == "fixed":
        if entry is not None and entry.is_fixed_amount and not form.text("amount"):
            amount = entry.fixed_amount_kobo  # a plan has one price: no need to type it
        else:
            amount = form.naira("amount", required=True)
        if amount is not None and entry is not None:
            problem = catalogue.amount_problem(entry, amount)
            if problem:
                form.fail("amount", problem)
    elif mode == "full_outstanding" and account is not None:
        problem = outstanding_problem(account)
        if problem:
            form.fail("amount_mode", problem)
    limit = form.naira("max_per_payment")
    if limit is not None and amount is not None and limit < amount:
        form.fail("max_per_payment", "This limit is below the amount, so no payment could ever be made. "
                                     "Raise the limit or lower the amount.")
    allow_partial = form.checked("allow_partial")
    partial_min = 0
    if allow_partial:
        if entry is not None and entry.is_fixed_amount:
            form.fail("allow_partial", f"{entry.name} can only be bought at its full price, so it cannot be paid "
                                       "in part.")
        partial_min = form.naira("partial_min") or 0
        bounds = [v for v in (amount, limit) if v is not None]
        if bounds and partial_min > min(bounds):
            form.fail("partial_min", "The smallest partial payment must not be more than the amount or the limit.")
    return {"amount_mode": mode, "amount_kobo": amount if mode == "fixed" else None,
            "max_per_payment_kobo": limit, "allow_partial": allow_partial, "partial_min_kobo": partial_min}


def saved_cards(user_id: int) -> list[SavedCard]:
    """The resident's reusable Paystack cards (what "pay by card" may charge)."""
    return list(db.session.scalars(
        select(SavedCard).where(SavedCard.user_id == user_id, SavedCard.reusable.is_(True),
                                SavedCard.gateway == "paystack").order_by(SavedCard.id)
    ))


def read_source(user: User, form: _Reader) -> tuple[str | None, int | None]:
    source = form.choice("payment_source", ("wallet", "card"), "Choose your wallet or a saved card.",
                         default="wallet")
    if source != "card":
        return source, None
    cards = saved_cards(user.id)
    if not cards:
        form.fail("payment_source", "You have no saved card yet. Fund your wallet once with Paystack to save your "
                                    "card, or pay from your wallet.")
        return None, None
    chosen = form.text("saved_card_id")
    if not chosen and len(cards) == 1:
        return source, cards[0].id
    card = next((c for c in cards if str(c.id) == chosen), None)
    if card is None:
        form.fail("saved_card_id", "Choose one of your saved cards.")
        return None, None
    return source, card.id


def read_automation(user: User, data: Mapping, now: datetime) -> AutomationInput:
    """Parse and check the whole form; ``AutomationError`` lists every problem found."""
    form = _Reader(data)
    target_kind, account, bill_type = read_target(user, form)
    amounts = read_amounts(form, account, target_kind)
    source, card_id = read_source(user, form)
    priority = form.choice("priority", PRIORITIES, "Choose high, normal or low priority.", default="normal")
    catch_up = form.choice("catch_up", ("latest", "none"), "Choose what happens after a missed run.",
                           default="latest")
    schedule = read_schedule(user, form)
    if schedule is not None:
        field = check_has_future_runs(schedule, now)
        if field:
            form.fail(field, "This schedule has no run dates left. Move the end date later or allow more payments.")
    if form.errors:
        raise AutomationError(form.errors)
    return AutomationInput(
        target_kind=target_kind, utility_account_id=account.id if account else None, bill_type=bill_type,
        payment_source=source, saved_card_id=card_id, priority=PRIORITIES[priority], catch_up=catch_up,
        schedule=schedule, **amounts,
    )


def parse_schedule(user: User, data: Mapping) -> Schedule:
    """Only the schedule part of the form (the live preview); ``AutomationError`` if it is wrong."""
    form = _Reader(data)
    schedule = read_schedule(user, form)
    if schedule is None:
        raise AutomationError(form.errors)
    return schedule
