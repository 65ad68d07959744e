"""Form pieces shared by every blueprint: filter forms read from the query string, the one
reading of a from/to date range (its parsing, its limits and its messages), and the boxes of posted
forms that are read leniently, among them the one naira box (``NairaField``).

A filter form changes nothing, so it has no CSRF token, and a filter it cannot use is switched off
with a message on the page (never an error page); query parameters it does not name are ignored.

A lenient box (``TypedField``) keeps the text as it was sent, so a refused form comes back as it
was typed, and turns it into ``data`` or None, noting in ``problem`` what is wrong. The problem
becomes the field's error when the form validates, unless a validator stopped validation because
the box does not apply to what the rest of the form chose.
"""
from __future__ import annotations

import re
from datetime import date

from wtforms import Field, Form, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import DateInput, TextInput

from webapp.money import naira_input
from webapp.request_numbers import MAX_AMOUNT_KOBO, parse_naira

# Dates outside this range cannot be a payment or an audit entry here, and would overflow timezone
# arithmetic (midnight of 0001-01-01 in Lagos is before year 1 in UTC).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999

NOT_A_DATE = "“{value}” is not a date for “{label}”. Enter dates as YYYY-MM-DD."
OUT_OF_RANGE = "“{value}” is out of range for “{label}”. Enter a year from {earliest} to {latest}."
FROM_AFTER_TO = "The “from” date is after the “to” date."
TOO_LONG = "Choose at most {days} days."
DATE_IGNORED = "That date was ignored."
DATES_IGNORED = "The dates were ignored."

TYPED_LIMIT = 100  # longer text is cut before it is read: nobody types more into these boxes
ZERO = re.compile(r"₦?\s*0+(\.0{1,2})?")


class FilterForm(Form):
    """A GET form over ``request.args``. After ``validate()`` a field that could not be used holds
    None (its filter is off) and ``messages`` says why."""

    def validate(self, extra_validators=None) -> bool:
        self.form_errors = []
        super().validate(extra_validators)
        for field in self:
            if field.errors:
                field.data = None
        return not self.messages

    @property
    def messages(self) -> list[str]:
        """What the page says about the filters it could not use, in field order."""
        return [*(message for field in self for message in field.errors), *self.form_errors]


class ChoiceFilter(SelectField):
    """One value of ``choices`` (``coerce`` applied), or None when empty. Anything else is the
    field's error with ``message``; with ``message=None`` it is dropped without a word."""

    def __init__(self, label=None, validators=None, coerce=str, message: str | None = None, **kwargs):
        super().__init__(label, validators, coerce=coerce, validate_choice=False, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not raw:
            return
        try:
            self.data = self.coerce(raw)
        except ValueError:
            if self.message:
                raise ValueError(self.message) from None

    def pre_validate(self, form):
        if self.data is None or self.data in self.values():
            return
        self.data = None
        if self.message:
            raise ValidationError(self.message)

    def values(self) -> set:
        return {SelectChoice.from_input(choice).value for choice in self.choices or ()}


class TextFilter(StringField):
    """Free text, trimmed (inner runs of spaces made one with ``collapse_spaces``) and cut to
    ``max_length``; never an error."""

    def __init__(self, label=None, validators=None, max_length: int = 100, collapse_spaces: bool = False,
                 **kwargs):
        kwargs.setdefault("default", "")
        super().__init__(label, validators, **kwargs)
        self.max_length, self.collapse_spaces = max_length, collapse_spaces

    def process_formdata(self, valuelist):
        text = valuelist[0] if valuelist else ""
        text = " ".join(text.split()) if self.collapse_spaces else text.strip()
        self.data = text[:self.max_length]


class DayField(Field):
    """A calendar day typed as YYYY-MM-DD, ``data`` a ``date`` from ``EARLIEST_YEAR`` to
    ``LATEST_YEAR`` (None when empty or unusable; an unusable one is also the field's error).
    An unusable value is shown again as it was typed."""

    widget = DateInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.raw_text = ""

    def process_formdata(self, valuelist):
        self.raw_text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.raw_text:
            return
        shown, label = self.raw_text[:20], self.label.text.lower()
        try:
            day = date.fromisoformat(self.raw_text)
        except ValueError:
            raise ValueError(NOT_A_DATE.format(value=shown, label=label)) from None
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise ValueError(OUT_OF_RANGE.format(value=shown, label=label, earliest=EARLIEST_YEAR,
                                                 latest=LATEST_YEAR))
        self.data = day

    def _value(self) -> str:
        return self.data.isoformat() if self.data else self.raw_text


class DateRangeForm(FilterForm):
    """``from`` and ``to`` as calendar days (both optional). A day that is not a date, or out of
    range, is dropped; a "from" after the "to" (or a range longer than ``max_days``) drops both.

    ``instead`` is what a page does about any of these when it does not simply drop the dates
    (the metrics page shows its default period); every message then ends with it.
    """

    date_from = DayField("From", name="from")
    date_to = DayField("To", name="to")

    instead: str | None = None
    max_days: int | None = None

    def ends(self) -> tuple[date | None, date | None]:
        """The first and last day the page will show (a page may fill in a missing end)."""
        return self.date_from.data, self.date_to.data

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        if not (self.date_from.errors or self.date_to.errors):
            start, end = self.ends()
            if start and end and start > end:
                self.form_errors.append(FROM_AFTER_TO)
            elif start and end and self.max_days and (end - start).days + 1 > self.max_days:
                self.form_errors.append(TOO_LONG.format(days=self.max_days))
            if self.form_errors:
                self.date_from.data = self.date_to.data = None
        return not self.messages

    @property
    def messages(self) -> list[str]:
        days = (self.date_from, self.date_to)
        others = [message for field in self if field not in days for message in field.errors]
        bad_days = [f"{message} {self.instead or DATE_IGNORED}" for field in days for message in field.errors]
        bad_range = [f"{message} {self.instead or DATES_IGNORED}" for message in self.form_errors]
        return [*others, *bad_days, *bad_range]


# --- boxes of posted forms, read leniently ---------------------------------------------------------

class TypedField(Field):
    """A box read leniently: ``data`` is the value (None when empty or unreadable) and ``problem``
    says what is wrong with the text. The text is stripped and cut to ``limit`` characters (None:
    not cut) before it is read.

    ``raw_text`` is what the box shows: the text exactly as sent (nothing, for a box left out), or
    what a view set it to; when neither, ``show(data)``.
    """

    widget = TextInput()
    problem: str | None = None
    raw_text: str | None = None

    def __init__(self, label=None, validators=None, limit: int | None = TYPED_LIMIT, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.limit = limit

    def process_formdata(self, valuelist):
        self.raw_text = str(valuelist[0]) if valuelist else ""
        self.data, self.problem = self.read(self.raw_text.strip()[:self.limit])

    def read(self, text: str) -> tuple[object, str | None]:
        return text or None, None

    def post_validate(self, form, validation_stopped):
        if not validation_stopped and self.problem:
            raise ValidationError(self.problem)

    def _value(self) -> str:
        if self.raw_text is not None:
            return self.raw_text
        return "" if self.data is None else self.show(self.data)

    def show(self, value) -> str:
        return str(value)


class NairaField(TypedField):
    """A naira box whose ``data`` is integer kobo up to ``maximum``, read by ``parse_naira`` (whose
    words are the field's error). An empty box is refused (``ENTER_AMOUNT``) unless ``optional``;
    then it is ``empty`` (None, or 0 where nothing means zero) and shows empty again, and with
    ``zero_is_empty`` a typed 0 counts as empty too. Not cut by default: ``parse_naira`` refuses
    overlong text itself."""

    def __init__(self, label=None, validators=None, optional: bool = False, empty: int | None = None,
                 zero_is_empty: bool = False, maximum: int = MAX_AMOUNT_KOBO, limit: int | None = None, **kwargs):
        super().__init__(label, validators, limit=limit, **kwargs)
        self.optional, self.empty, self.zero_is_empty, self.maximum = optional, empty, zero_is_empty, maximum

    def read(self, text):
        if self.optional and (not text or (self.zero_is_empty and ZERO.fullmatch(text))):
            return self.empty, None
        try:
            return parse_naira(text, self.maximum), None
        except ValueError as exc:
            return None, str(exc)

    def show(self, value) -> str:
        return "" if value == self.empty else naira_input(value)
