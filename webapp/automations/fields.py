"""The boxes of the automation forms, each read leniently by its field (``webapp.forms.TypedField``).

A field keeps the text as it was typed (so a refused form comes back as it was sent) and turns it
into ``data`` (a choice, a whole number, a date...) or None, noting in ``problem`` what is wrong. The
problem becomes the field's error when the form validates, unless a validator such as
``applies_when`` said the box does not apply to what the rest of the form chose. Naira boxes are
the shared ``webapp.forms.NairaField``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, time
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms.validators import StopValidation, ValidationError

from webapp.forms import TypedField
from webapp.request_numbers import CHOOSE_FROM_LIST, parse_count, parse_id

PRIORITIES = {"high": 3, "normal": 2, "low": 1}


def applies_when(test: Callable[[FlaskForm], bool]):
    """Validator: the box is read only when ``test(form)`` holds; otherwise it is ignored."""
    def only_then(form, field):
        if not test(form):
            raise StopValidation()
    return only_then


class OptionField(TypedField):
    """One of ``choices`` (value, label pairs, or a dict of groups of them); ``if_empty`` stands
    in for an empty box. The choices may be set on the instance (the view sets the resident's)."""

    def __init__(self, label=None, validators=None, choices=(), message: str = CHOOSE_FROM_LIST,
                 if_empty: str | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.choices, self.message, self.if_empty = choices, message, if_empty

    def read(self, text):
        return text or self.if_empty, None

    def values(self) -> set[str]:
        groups = self.choices.values() if isinstance(self.choices, Mapping) else [self.choices]
        return {str(value) for group in groups for value, _label in group}

    def post_validate(self, form, validation_stopped):
        if not validation_stopped and self.data not in self.values():
            raise ValidationError(self.message)


class PriorityField(TypedField):
    """High, normal (when empty) or low in the box; 3, 2 or 1 as ``data``."""

    choices = [("high", "High: pay this first"), ("normal", "Normal"), ("low", "Low: pay this last")]
    message = "Choose high, normal or low priority."

    def read(self, text):
        number = PRIORITIES.get(text or "normal")
        return number, None if number is not None else self.message

    def show(self, value) -> str:
        return next((word for word, number in PRIORITIES.items() if number == value), "")


class WholeNumberField(TypedField):
    """A whole number from ``low`` to ``high``; ``message`` when it is not one (or is missing and
    ``required``)."""

    def __init__(self, label=None, validators=None, low: int = 0, high: int = 0, message: str = CHOOSE_FROM_LIST,
                 required: bool = True, choices=(), **kwargs):
        super().__init__(label, validators, **kwargs)
        self.low, self.high, self.message, self.required, self.choices = low, high, message, required, choices

    def read(self, text):
        if not text:
            return None, self.message if self.required else None
        number = parse_count(text, self.low, self.high)
        return number, None if number is not None else self.message


class KwhField(TypedField):
    """Kilowatt-hours a day, like 8 or 12.5: above 0 and at most ``high``, one decimal kept."""

    def __init__(self, label=None, validators=None, high: int = 500, message: str = "", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.high, self.message = high, message

    def read(self, text):
        if not text:
            return None, None
        try:
            value = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return None, self.message
        if not value.is_finite() or value <= 0 or value > self.high:
            return None, self.message
        return value.quantize(Decimal("0.1")), None

    def show(self, value) -> str:
        return format(value.normalize(), "f")


class RowIdField(TypedField):
    """A row id chosen from ``choices`` (set by the view); whether it is one the resident may
    choose is the service's to say."""

    def __init__(self, label=None, validators=None, message: str = CHOOSE_FROM_LIST, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message, self.choices = message, []

    def read(self, text):
        if not text:
            return None, None
        number = parse_id(text)
        return number, None if number is not None else self.message


class IsoDateField(TypedField):
    def read(self, text):
        if not text:
            return None, None
        try:
            return date.fromisoformat(text), None
        except ValueError:
            return None, "Enter a date like 2025-01-31."

    def show(self, value) -> str:
        return value.isoformat()


class ClockField(TypedField):
    def read(self, text):
        if not text:
            return None, None
        try:
            parsed = time.fromisoformat(text)
        except ValueError:
            return None, "Enter a time like 09:00."
        return parsed.replace(second=0, microsecond=0, tzinfo=None), None

    def show(self, value) -> str:
        return value.strftime("%H:%M")


class TickField(TypedField):
    """A checkbox: ticked when it sends 1, y, yes, on or true."""

    def read(self, text):
        return text.lower() in ("1", "y", "yes", "on", "true"), None

    def process_data(self, value):
        self.data = bool(value)


class WeekdaysField(TypedField):
    """Ticked days of the week (0 = Monday) as a sorted tuple; at least one."""

    message = "Choose at least one day of the week."

    def process_formdata(self, valuelist):
        days = [parse_count(text, 0, 6) for text in (str(v).strip() for v in valuelist) if text]
        if not days or None in days:
            self.data, self.problem = None, self.message
        else:
            self.data, self.problem = tuple(sorted(set(days))), None

    def process_data(self, value):
        if isinstance(value, str):  # as an Automation row stores them: "0,4"
            value = [int(day) for day in value.split(",") if day]
        self.data = tuple(value or ())

    def chosen(self) -> list[str]:
        """The ticked boxes' values, as sent or as saved."""
        if self.raw_data is not None:
            return [str(v) for v in self.raw_data]
        return [str(day) for day in self.data or ()]
