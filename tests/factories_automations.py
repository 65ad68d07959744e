"""Factories for automation tests: enabled automations with their next run already set, settings, estate bills
and the bill plans that issue them.

An automation is described by its first run (``first_run``): the monthly schedule (day, time,
starting month) is derived from it in the automation's time zone, and ``next_run_at`` is that
moment, checked to be an occurrence of the schedule. See ``tests/factories.py`` for the conventions.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import factory

from webapp.models import Automation, AutomationSettings, Bill, BillPlan, Estate, User, UtilityAccount
from webapp.services.automations import schedule_of

from .factories import CommittedFactory, EstateFactory, UserFactory, UserIdFactory


class AutomationFactory(CommittedFactory):
    """A fixed-amount monthly automation that first runs at ``first_run`` (a required parameter);
    it pays ``utility_account``, or the resident's estate bills when that is None."""

    class Meta:
        model = Automation

    class Params:
        first_run = None  # required: when the automation runs first
        local = factory.LazyAttribute(lambda a: a.first_run.astimezone(ZoneInfo(a.timezone)))

    user = factory.SubFactory(UserFactory)
    estate_id = factory.SelfAttribute("user.estate_id")
    utility_account = None
    target_kind = factory.LazyAttribute(lambda a: "utility" if a.utility_account is not None else "estate_bill")
    amount_mode = "fixed"
    amount_kobo = 5_000_00
    schedule_kind = "monthly_day"
    timezone = "Africa/Lagos"
    day_of_month = factory.LazyAttribute(lambda a: a.local.day)
    time_of_day = factory.LazyAttribute(lambda a: time(a.local.hour, a.local.minute))
    starts_on = factory.LazyAttribute(lambda a: date(a.local.year, a.local.month, 1))
    enabled = True
    next_run_at = factory.SelfAttribute("first_run")

    @factory.post_generation
    def first_run_is_an_occurrence(automation, create, extracted, **kwargs):
        due = automation.next_run_at
        assert schedule_of(automation).next_after(due, inclusive=True) == due, \
            "first_run must be an occurrence of the schedule"


class AutomationSettingsFactory(UserIdFactory):
    class Meta:
        model = AutomationSettings


class EstateBillFactory(CommittedFactory):
    """A pending service-charge bill of ``user``'s estate, titled after its type."""

    class Meta:
        model = Bill

    user = factory.SubFactory(UserFactory)
    estate_id = factory.SelfAttribute("user.estate_id")
    bill_type = "service_charge"
    category = "cluster_managed"
    title = factory.LazyAttribute(lambda bill: bill.bill_type.replace("_", " ").title())
    amount_kobo = 20_000_00
    due_date = None


class BillPlanFactory(CommittedFactory):
    """A running monthly security plan of ₦15,000 to every resident, issued on the 1st from
    ``starts_on`` (a required parameter), due 14 days later, reminders 3 and 7 days after."""

    class Meta:
        model = BillPlan

    estate = factory.SubFactory(EstateFactory)
    estate_id = factory.SelfAttribute("estate.id")
    title = factory.Sequence(lambda n: f"Security levy {n}")
    bill_type = "security"
    amount_kobo = 15_000_00
    frequency = "monthly"
    day_of_month = 1
    starts_on = None
    issue_from = factory.SelfAttribute("starts_on")
    all_residents = True
    due_after_days = 14
    grace_days = 0
    reminder_days_after = "3,7"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs.pop("estate", None)
        return super()._create(model_class, *args, **kwargs)


def make_bill_plan(estate: Estate, starts_on: date, residents: list[User] | None = None, **fields) -> BillPlan:
    """A running plan of ``estate`` from ``starts_on``; to ``residents`` only when given."""
    extra = {"all_residents": False, "residents": residents} if residents is not None else {}
    return BillPlanFactory(estate=estate, starts_on=starts_on, **extra, **fields)


def make_automation(user: User, account: UtilityAccount | None = None, *, amount_kobo: int | None = 5_000_00,
                    first_run: datetime, enabled: bool = True, **fields) -> Automation:
    """An automation whose ``next_run_at`` is ``first_run`` (a run of its schedule)."""
    return AutomationFactory(user=user, utility_account=account, amount_kobo=amount_kobo, first_run=first_run,
                             enabled=enabled, **fields)


def save_settings(user: User, **fields) -> AutomationSettings:
    """The resident's automation settings row with ``fields`` (unset ones take the model's defaults)."""
    return AutomationSettingsFactory(user=user, **fields)


def make_estate_bill(user: User, amount_kobo: int = 20_000_00, bill_type: str = "service_charge",
                     due_date: date | None = None, **fields) -> Bill:
    """An estate bill of ``user`` (title from ``bill_type`` unless given)."""
    return EstateBillFactory(user=user, amount_kobo=amount_kobo, bill_type=bill_type, due_date=due_date, **fields)
