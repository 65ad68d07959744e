"""The admin pages' filter forms, read from the query string (see ``webapp.forms``)."""
from __future__ import annotations

from datetime import date, timedelta

from wtforms import Field
from wtforms.widgets import TextInput

from webapp.forms import ChoiceFilter, DateRangeForm, FilterForm, TextFilter
from webapp.models.catalogue import API_PROVIDERS, UTILITY_TYPES
from webapp.queries import accountant_export, metrics, payment_operations
from webapp.queries.audit_log import AuditFilters
from webapp.request_numbers import parse_count
from webapp.services import estate_bills


class AuditFilterForm(DateRangeForm):
    """Action and object type are matched exactly, the actor as a part of the name."""

    action = TextFilter("Action", max_length=60)
    actor = TextFilter("Actor contains", max_length=120)
    object_type = TextFilter("Object type", max_length=40)

    def filters(self) -> AuditFilters:
        """The filters to apply, once validated (a date that could not be used is off)."""
        return AuditFilters(action=self.action.data, actor=self.actor.data, object_type=self.object_type.data,
                            date_from=self.date_from.data, date_to=self.date_to.data)


class PeriodForm(DateRangeForm):
    """The metrics period in whole local days; one end is enough (the other is filled in). With any
    problem the page shows the default period, so only the first problem is told."""

    instead = f"Showing the last {metrics.DEFAULT_DAYS} days instead."
    max_days = metrics.MAX_DAYS

    def __init__(self, formdata=None, *, today: date, **kwargs):
        self.today = today
        super().__init__(formdata, **kwargs)

    def ends(self) -> tuple[date, date]:
        end = self.date_to.data or self.today
        return self.date_from.data or end - timedelta(days=metrics.DEFAULT_DAYS - 1), end

    def validate(self, extra_validators=None) -> bool:
        if super().validate(extra_validators):
            self.date_from.data, self.date_to.data = self.ends()  # the inputs show the period shown
        return not self.messages

    @property
    def messages(self) -> list[str]:
        return super().messages[:1]

    def period(self, timezone: str) -> metrics.Period:
        """Once validated: the period asked for, or the default one if it could not be used."""
        if self.messages:
            return metrics.default_period(timezone, self.today)
        return metrics.Period(self.date_from.data, self.date_to.data, timezone)


class MonthFilter(Field):
    """A calendar month typed as YYYY-MM, ``data`` its first day; anything else leaves it off."""

    def process_formdata(self, valuelist):
        year, _, month = (valuelist[0] if valuelist else "").partition("-")
        year, month = parse_count(year, 1900, 2999), parse_count(month, 1, 12)
        self.data = date(year, month, 1) if year and month else None


class StatedMonthFilter(MonthFilter):
    """``MonthFilter`` that says so when the text is not a month (the page then shows this month)."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        super().process_formdata([raw])
        if raw and self.data is None:
            raise ValueError(f"“{raw[:20]}” is not a month. Enter it as YYYY-MM. Showing this month instead.")


class DaysFilter(Field):
    """A whole number of days from 0 to ``MAX_DAYS``; anything else is the field's error. What was
    typed is shown again."""

    widget = TextInput()
    MAX_DAYS = 3650

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.raw_text = ""

    def process_formdata(self, valuelist):
        self.raw_text = (valuelist[0] if valuelist else "").strip()[:20]
        self.data = None
        if not self.raw_text:
            return
        self.data = parse_count(self.raw_text, 0, self.MAX_DAYS)
        if self.data is None:
            raise ValueError(f"“{self.raw_text}” is not a number of days for “{self.label.text.lower()}”. "
                             f"Enter a whole number from 0 to {self.MAX_DAYS}; that filter was ignored.")

    def _value(self) -> str:
        return self.raw_text or ("" if self.data is None else str(self.data))


class CollectionsFilterForm(FilterForm):
    """The month shown (this month by default) and the defaulters' filters."""

    month = StatedMonthFilter("Month", name="month")
    min_days = DaysFilter("Minimum days overdue", name="min_days")
    bill_type = ChoiceFilter("Type", name="type", choices=list(estate_bills.TYPE_LABELS),
                             message="Choose a bill type from the list; that filter was ignored.")

    def filters(self, this_month: date) -> dict:
        """Once validated: the month and the defaulters' filters (an unusable one is off)."""
        return {"month": self.month.data or this_month, "min_days": self.min_days.data or 0,
                "bill_type": self.bill_type.data}


class BillFilterForm(FilterForm):
    """A value that is not one of the lists' is left off without a word (the lists offer no other)."""

    status = ChoiceFilter("Status", choices=list(estate_bills.STATUS_LABELS))
    bill_type = ChoiceFilter("Type", name="type", choices=list(estate_bills.TYPE_LABELS))
    due_month = MonthFilter("Due in month", name="month")

    def filters(self) -> dict:
        """``estate_bills.bills_page`` keyword arguments, once validated."""
        return {"status": self.status.data, "bill_type": self.bill_type.data, "due_month": self.due_month.data}


class CatalogueFilterForm(FilterForm):
    """A value that is not one of the lists' is left off without a word (the lists offer no other)."""

    search = TextFilter("Search name or code", name="q", max_length=100, collapse_spaces=True)
    utility_type = ChoiceFilter("Utility type", name="type", choices=list(UTILITY_TYPES))
    api_provider = ChoiceFilter("Bills provider", name="provider", choices=list(API_PROVIDERS))
    active = ChoiceFilter("Offered", choices=["yes", "no"])

    def filters(self) -> dict:
        """``catalogue.entries_page`` keyword arguments, once validated."""
        return {"search": self.search.data, "utility_type": self.utility_type.data,
                "api_provider": self.api_provider.data, "active": {"yes": True, "no": False}.get(self.active.data)}


class QueueForm(FilterForm):
    """Which payment queue to show; anything else shows the default queue."""

    queue = ChoiceFilter("Queue", choices=list(payment_operations.QUEUES))

    def chosen(self) -> payment_operations.Queue:
        return payment_operations.QUEUES[self.queue.data or payment_operations.DEFAULT_QUEUE]


class ExportPeriodForm(DateRangeForm):
    """The accountant's export period in the estate's local days: last month when neither end is
    given, else from the first of the "to" month, or up to today. A date that cannot be used
    exports nothing (the page says why and keeps what was typed)."""

    instead = "Nothing was exported; correct the dates and try again."
    max_days = 366

    def __init__(self, formdata=None, *, today: date, **kwargs):
        self.today = today
        super().__init__(formdata, **kwargs)

    def ends(self) -> tuple[date, date]:
        if self.date_from.data is None and self.date_to.data is None:
            return accountant_export.last_month(self.today)
        end = self.date_to.data or self.today
        return self.date_from.data or end.replace(day=1), end

    def validate(self, extra_validators=None) -> bool:
        if super().validate(extra_validators):
            self.date_from.data, self.date_to.data = self.ends()  # the inputs show the period exported
        return not self.messages
