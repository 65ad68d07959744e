"""The automation form and the automation settings form.

Each box is read by its field (``fields.py``; naira to kobo by ``webapp.forms.NairaField`` with
``parse_naira``, whole numbers with ``parse_count``) and keeps the text as it was typed, so a
refused form comes back as it was sent. Boxes that do not apply are ignored whatever they hold: the
weekday of a monthly schedule, the smallest part payment when part payments are off. Rules that
need the resident's data (their account, the provider's limits, their saved card) belong to
``services.automations.inputs``; the view puts its refusals on the fields they name, with the
form's own problems when it has some (``automation_input`` then gives a partial draft).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from datetime import time

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.widgets import MonthInput

from webapp.automations.fields import (
    ClockField,
    IsoDateField,
    KwhField,
    OptionField,
    PriorityField,
    RowIdField,
    TickField,
    TypedField,
    WeekdaysField,
    WholeNumberField,
    applies_when,
)
from webapp.forms import EARLIEST_YEAR, LATEST_YEAR, TYPED_LIMIT, FilterForm, NairaField
from webapp.models.catalogue import UTILITY_LABELS
from webapp.request_numbers import ENTER_AMOUNT, parse_id
from webapp.services.automations.activity import Month
from webapp.services.automations.inputs import (
    CHOOSE_CARD,
    CHOOSE_TARGET,
    COVER_DAYS,
    AutomationInput,
    schedule_problem,
    start_problem,
    today_in,
)
from webapp.services.automations.schedules import LEAD_HOURS, RUN_OUT, WEEKDAY_NAMES, Schedule, lead_words
from webapp.services.automations.settings import SettingsInput

TIMEZONES = ("Africa/Lagos", "Africa/Accra", "Africa/Johannesburg", "Africa/Nairobi", "Europe/London",
             "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Dubai", "UTC")
KIND_NAMES = {"monthly_day": "Monthly on a day of the month", "last_day": "On the last day of each month",
              "nth_weekday": "Monthly on a weekday (e.g. second Tuesday)", "weekly": "Weekly on chosen days",
              "interval": "Every few days, weeks or months",
              RUN_OUT: "Before my prepaid meter runs out (predicted from its top-ups)"}
LEAD_NAMES = [(str(hours), f"{lead_words(hours)} before") for hours in LEAD_HOURS]
NTH_NAMES = {"1": "First", "2": "Second", "3": "Third", "4": "Fourth", "-1": "Last"}
MAX_COUNT = 1000
NOT_BOTH = "Choose an end date or a number of payments, not both."
# Option boxes that hold no option when refused; a partial draft takes the draft's defaults for them instead.
CHOICES = ("amount_mode", "payment_source", "priority", "catch_up")
# The schedule's boxes in the order they are read, which is the order the preview lists their problems.
SCHEDULE_FIELDS = ("schedule_kind", "starts_on", "time_of_day", "interval_unit", "interval_count", "day_of_month",
                   "nth", "weekday", "weekdays", "ends_on", "max_occurrences", "timezone", "lead_hours",
                   "daily_units")


def for_kinds(*kinds: str):
    return applies_when(lambda form: form.schedule_kind.data in kinds)


def _naira(label: str, validators=None, limit: int = TYPED_LIMIT, **kwargs) -> NairaField:
    """Any naira box here may be left empty: the form or the service says when an amount is needed."""
    return NairaField(label, validators, optional=True, limit=limit, **kwargs)


# --- the automation form ---------------------------------------------------------------------------

def _fixed(form) -> bool:
    return form.amount_mode.data == "fixed"


class AutomationForm(FlaskForm):
    """New and edit. The view sets ``target.choices`` (the resident's accounts and the estate
    bills), ``plan_targets`` (those with a fixed price, which need no amount typed),
    ``saved_card_id.choices`` (their saved cards) and ``resident_zone``."""

    target = OptionField("Pay for", message=CHOOSE_TARGET, if_empty="")
    amount_mode = OptionField("Amount", choices=[("fixed", "A fixed amount"),
                                                 ("full_outstanding", "The full outstanding amount"),
                                                 ("cover_days", "Enough for a number of days (meter top-ups)")],
                              message="Choose a fixed amount, the full outstanding or enough for some days.",
                              if_empty="fixed", default="fixed")
    amount_kobo = _naira("Fixed amount (₦)", [applies_when(_fixed)], name="amount")
    cover_days = WholeNumberField("Days each top-up should last",
                                  [applies_when(lambda form: form.amount_mode.data == "cover_days")], low=1, high=90,
                                  message=COVER_DAYS, default=7)
    max_per_payment_kobo = _naira("Spending limit per payment (₦, optional)", name="max_per_payment")
    allow_partial = TickField("Allow part payments when my wallet or limits cannot cover the full amount")
    partial_min_kobo = _naira("Smallest part payment (₦, optional)",
                              [applies_when(lambda form: form.allow_partial.data)], name="partial_min", empty=0)

    schedule_kind = OptionField("How often", choices=list(KIND_NAMES.items()),
                                message="Choose how often this should run.", if_empty="monthly_day",
                                default="monthly_day")
    interval_count = WholeNumberField("Every", [for_kinds("interval")], low=1, high=366,
                                      message="Repeat every 1 to 366 days, weeks or months.", default=1)
    interval_unit = OptionField("Unit", [for_kinds("interval")],
                                choices=[("day", "days"), ("week", "weeks"), ("month", "months")],
                                message="Choose days, weeks or months.", default="month")
    day_of_month = WholeNumberField("Day of the month", [for_kinds("monthly_day")], low=1, high=31,
                                    message="Choose a day of the month from 1 to 31.")
    nth = WholeNumberField("Which", [for_kinds("nth_weekday")], low=-1, high=4, choices=list(NTH_NAMES.items()),
                           message="Choose first, second, third, fourth or last.", default=1)
    weekday = WholeNumberField("Day", [for_kinds("nth_weekday")], low=0, high=6, message="Choose a day of the week.",
                               choices=[(str(i), name) for i, name in enumerate(WEEKDAY_NAMES)])
    weekdays = WeekdaysField("On these days", [for_kinds("weekly")])
    lead_hours = WholeNumberField("Top up", [for_kinds(RUN_OUT)], low=1, high=max(LEAD_HOURS), choices=LEAD_NAMES,
                                  message="Choose how long before the meter runs out to top it up.", default=24)
    daily_units = KwhField("Daily usage in kWh (optional)", [for_kinds(RUN_OUT)],
                           message="Enter the meter's daily usage in kWh, like 8 or 12.5 (at most 500).")
    time_of_day = ClockField("Time", default=time(9, 0))
    timezone = TypedField("Time zone")
    starts_on = IsoDateField("Starts on")
    ends_on = IsoDateField("Ends on (optional)")
    max_occurrences = WholeNumberField("Or stop after this many payments (optional)", low=1, high=MAX_COUNT,
                                       message=f"Enter a number of payments from 1 to {MAX_COUNT}, or leave it empty.",
                                       required=False)
    catch_up = OptionField("If payments could not run for a while (e.g. maintenance)",
                           choices=[("latest", "Pay the latest missed run only"),
                                    ("none", "Pay nothing; wait for the next run")],
                           message="Choose what happens after a missed run.", if_empty="latest", default="latest")

    payment_source = OptionField("Pay from", choices=[("wallet", "From my wallet"), ("card", "From my saved card")],
                                 message="Choose your wallet or a saved card.", if_empty="wallet", default="wallet")
    saved_card_id = RowIdField("Card", [applies_when(lambda form: form.payment_source.data == "card")],
                               message=CHOOSE_CARD)
    priority = PriorityField("Priority when money is short", default=2)

    resident_zone = "Africa/Lagos"
    plan_targets: frozenset[str] = frozenset()
    schedule: Schedule | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = list(TIMEZONES)
        shown = self.timezone._value()
        if shown and shown not in zones:
            zones.insert(0, shown)
        self.timezone.choices = [(zone, zone) for zone in zones]

    @classmethod
    def for_new(cls, zone: str, target: str | None = None) -> AutomationForm:
        """Monthly on today's day at 09:00 in the resident's zone, from today, paid from the wallet."""
        today = today_in(zone)
        return cls(data={"target": target or "", "day_of_month": today.day, "weekday": today.weekday(),
                         "timezone": zone, "starts_on": today})

    @classmethod
    def for_edit(cls, automation) -> AutomationForm:
        a = automation
        target = f"account:{a.utility_account_id}" if a.target_kind == "utility" else f"bill:{a.bill_type}"
        return cls(obj=a, target=target)

    def validate(self, extra_validators=None) -> bool:
        fields_fine = super().validate(extra_validators)
        amount = self.amount_kobo
        if _fixed(self) and amount.data is None and not amount.errors and self.target.data not in self.plan_targets:
            self._fail(amount, ENTER_AMOUNT)  # the service says so too; here it shows with the other problems
        self.schedule = self._read_schedule()
        return fields_fine and not amount.errors and self.schedule is not None

    def preview_schedule(self) -> tuple[Schedule | None, str | None]:
        """The schedule on the form, or the words for what is wrong with it. The fields keep the
        errors they had: a preview is not a save, so its problems show in the preview box only."""
        fields = [self[name] for name in SCHEDULE_FIELDS]
        kept = [(field, field.errors) for field in fields]
        for field in fields:
            field.validate(self)
        schedule = self._read_schedule()
        problem = None if schedule else " ".join(field.errors[0] for field in fields if field.errors)
        for field, errors in kept:
            field.errors = errors
        return schedule, problem

    def _fail(self, field: Field, message: str | None) -> None:
        if message and not field.errors:
            field.errors.append(message)

    def _read_schedule(self) -> Schedule | None:
        """The schedule the boxes describe, or None with the problems on their fields."""
        zone = self.timezone.data or self.resident_zone
        today = today_in(zone)
        starts_on = None
        if not self.starts_on.errors:
            starts_on = self.starts_on.data or today
            self._fail(self.starts_on, start_problem(starts_on, today))
        if self.ends_on.data is not None and self.max_occurrences.data is not None \
                and self.schedule_kind.data != RUN_OUT:
            self._fail(self.max_occurrences, NOT_BOTH)
        if any(self[name].errors for name in SCHEDULE_FIELDS):
            return None
        kind = self.schedule_kind.data
        parts = {"interval": ("interval_unit", "interval_count"), "monthly_day": ("day_of_month",),
                 "nth_weekday": ("nth", "weekday"), "weekly": ("weekdays",), RUN_OUT: ("lead_hours",)}.get(kind, ())
        dated = kind != RUN_OUT  # a top-up before the meter runs out has no end date or count
        schedule = Schedule(kind=kind, starts_on=starts_on, time_of_day=self.time_of_day.data or time(9, 0),
                            timezone=zone, ends_on=self.ends_on.data if dated else None,
                            max_occurrences=self.max_occurrences.data if dated else None,
                            **{name: self[name].data for name in parts})
        problem = schedule_problem(schedule)
        if problem:
            field, message = problem
            self._fail(self[field], message)
            return None
        return schedule

    def automation_input(self) -> AutomationInput:
        """What a validated form asks for, for ``crud.create_automation``/``update_automation``.
        After a refused ``validate`` it is a partial draft for ``inputs.problems``: the boxes with
        problems are named in ``unread`` (by HTML name) and stand at their defaults."""
        unread = frozenset(field.name for field in self if field.errors)
        kind, _, value = self.target.data.partition(":")
        partial = self.allow_partial.data
        values = {
            "target_kind": "estate_bill" if kind == "bill" else "utility",
            "utility_account_id": parse_id(value) if kind == "account" else None,
            "bill_type": value if kind == "bill" else None,
            "schedule": self.schedule, "amount_mode": self.amount_mode.data,
            "amount_kobo": self.amount_kobo.data if _fixed(self) else None,
            "payment_source": self.payment_source.data,
            "saved_card_id": self.saved_card_id.data if self.payment_source.data == "card" else None,
            "priority": self.priority.data, "max_per_payment_kobo": self.max_per_payment_kobo.data,
            "allow_partial": partial, "partial_min_kobo": (self.partial_min_kobo.data or 0) if partial else 0,
            "catch_up": self.catch_up.data,
            "daily_units": self.daily_units.data if self.schedule_kind.data == RUN_OUT else None,
            "cover_days": self.cover_days.data if self.amount_mode.data == "cover_days" else None,
        }
        for name in unread.intersection(CHOICES):
            del values[name]
        return AutomationInput(**values, unread=unread)

    def add_errors(self, errors: Mapping[str, str]) -> None:
        """Put a service's refusals next to the boxes they name (by HTML name)."""
        by_name = {field.name: field for field in self}
        for name, message in errors.items():
            field = by_name.get(name)
            if field is None:
                self.form_errors.append(message)
            else:
                field.errors = [*field.errors, message]


# --- settings --------------------------------------------------------------------------------------

SETTINGS_LIMIT = 40  # characters read from a settings box
SETTINGS_NUMBERS = {
    "reminder_lead_hours": (0, 168, "Enter how many hours before a payment to remind you, from 0 to 168 (a week)."),
    "grace_hours": (1, 168,
                    "Enter how many hours to keep retrying a payment while your wallet is short, from 1 to 168."),
    "pause_after_failures": (1, 10, "Enter after how many failed payments in a row to pause, from 1 to 10."),
}


def _cap(label: str, name: str) -> NairaField:
    return _naira(label, name=name, limit=SETTINGS_LIMIT)


def _utility_cap(utility_type: str) -> NairaField:
    return _cap(UTILITY_LABELS[utility_type], f"{utility_type}_cap")


def _settings_number(label: str, name: str) -> WholeNumberField:
    low, high, message = SETTINGS_NUMBERS[name]
    return WholeNumberField(label, low=low, high=high, message=message, limit=SETTINGS_LIMIT)


class SettingsForm(FlaskForm):
    """Populated from an ``AutomationSettings`` row (the fields carry its column names)."""

    min_balance_kobo = _naira("Keep at least this much in my wallet (₦)", name="min_balance", empty=0,
                              zero_is_empty=True, limit=SETTINGS_LIMIT)
    monthly_cap_kobo = _cap("All automations", "monthly_cap")
    electricity_cap_kobo = _utility_cap("electricity")
    water_cap_kobo = _utility_cap("water")
    internet_cap_kobo = _utility_cap("internet")
    cable_tv_cap_kobo = _utility_cap("cable_tv")
    estate_bills_cap_kobo = _cap("Estate bills", "estate_bills_cap")
    reminder_lead_hours = _settings_number("Remind me this many hours before a payment", "reminder_lead_hours")
    grace_hours = _settings_number("When my wallet is short, keep retrying for (hours)", "grace_hours")
    pause_after_failures = _settings_number("Pause an automation after this many failed payments in a row",
                                            "pause_after_failures")

    def caps(self) -> list[NairaField]:
        return [self.monthly_cap_kobo, self.electricity_cap_kobo, self.water_cap_kobo, self.internet_cap_kobo,
                self.cable_tv_cap_kobo, self.estate_bills_cap_kobo]

    def settings_input(self) -> SettingsInput:
        return SettingsInput(**{f.name: self[f.name].data for f in dataclass_fields(SettingsInput)})


class MonthField(Field):
    """A calendar month typed as YYYY-MM (``<input type="month">`` sends that); ``data`` a ``Month``
    from ``EARLIEST_YEAR`` to ``LATEST_YEAR``, None when empty or unusable. An unusable one is the
    field's error and is shown again as it was typed."""

    widget = MonthInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.raw_text = ""

    def process_formdata(self, valuelist):
        self.raw_text = (valuelist[0] if valuelist else "").strip()[:TYPED_LIMIT]
        self.data = None
        if not self.raw_text:
            return
        try:
            month = Month.parse(self.raw_text)
        except ValueError:
            raise ValueError(NOT_A_MONTH.format(value=self.raw_text[:20])) from None
        if not EARLIEST_YEAR <= month.year <= LATEST_YEAR:
            raise ValueError(MONTH_OUT_OF_RANGE.format(value=self.raw_text[:20], earliest=EARLIEST_YEAR,
                                                       latest=LATEST_YEAR))
        self.data = month

    def _value(self) -> str:
        return self.raw_text or (self.data.param if self.data is not None else "")


NOT_A_MONTH = "“{value}” is not a month. Enter a month as YYYY-MM, for example 2027-03. Showing this month instead."
MONTH_OUT_OF_RANGE = "“{value}” is out of range. Enter a year from {earliest} to {latest}. Showing this month instead."


class ActivityFilterForm(FilterForm):
    """The "What autopay did" page's month (query string ``month``); none, or one it cannot use,
    shows this month."""

    month = MonthField("Month")
