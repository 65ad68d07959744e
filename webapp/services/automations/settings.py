"""A resident's rules for all their automations: minimum balance, monthly caps, reminders,
grace window and when repeated failures pause an automation.

Reading never writes (unsaved defaults come from ``common.settings_for``); the row is created
on the first save. Naira amounts are parsed to kobo by the same ``parse_naira`` as the wallet
forms; an empty cap means "no cap".
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationSettings, User
from webapp.request_numbers import parse_count, parse_naira
from webapp.services.automations.common import settings_for
from webapp.services.automations.inputs import naira_text

ZERO = re.compile(r"₦?\s*0+(\.0{1,2})?")

# form field -> (column, label) for the caps; an empty box is no cap.
CAP_FIELDS = {
    "monthly_cap": ("monthly_cap_kobo", "All automations"),
    "electricity_cap": ("electricity_cap_kobo", "Electricity"),
    "water_cap": ("water_cap_kobo", "Water"),
    "internet_cap": ("internet_cap_kobo", "Internet"),
    "cable_tv_cap": ("cable_tv_cap_kobo", "Cable TV"),
    "estate_bills_cap": ("estate_bills_cap_kobo", "Estate bills"),
}
# form field -> (column, lowest, highest, message)
WHOLE_FIELDS = {
    "reminder_lead_hours": ("reminder_lead_hours", 0, 168,
                            "Enter how many hours before a payment to remind you, from 0 to 168 (a week)."),
    "grace_hours": ("grace_hours", 1, 168,
                    "Enter how many hours to keep retrying a payment while your wallet is short, from 1 to 168."),
    "pause_after_failures": ("pause_after_failures", 1, 10,
                             "Enter after how many failed payments in a row to pause, from 1 to 10."),
}


class SettingsError(ValueError):
    """Settings we refuse, one message per field; nothing was saved."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


def get_settings(user_id: int) -> AutomationSettings:
    """The saved settings, or the defaults (not added to the session)."""
    return settings_for(user_id)


def form_values(settings: AutomationSettings) -> dict[str, str]:
    """Settings as the text the form shows."""
    values = {"min_balance": naira_text(settings.min_balance_kobo or None)}
    for name, (column, _label) in CAP_FIELDS.items():
        values[name] = naira_text(getattr(settings, column))
    for name, (column, *_rest) in WHOLE_FIELDS.items():
        values[name] = str(getattr(settings, column))
    return values


def _text(data: Mapping, name: str) -> str:
    return str(data.get(name) or "").strip()[:40]


def parse_settings(data: Mapping) -> dict:
    """Column values from the form; ``SettingsError`` lists every problem."""
    errors: dict[str, str] = {}
    values: dict = {}
    min_text = _text(data, "min_balance")
    if not min_text or ZERO.fullmatch(min_text):
        values["min_balance_kobo"] = 0  # empty or zero: automation may use the whole wallet
    else:
        try:
            values["min_balance_kobo"] = parse_naira(min_text)
        except ValueError as exc:
            errors["min_balance"] = str(exc)
    for name, (column, _label) in CAP_FIELDS.items():
        text = _text(data, name)
        try:
            values[column] = parse_naira(text) if text else None
        except ValueError as exc:
            errors[name] = str(exc)
    for name, (column, low, high, message) in WHOLE_FIELDS.items():
        number = parse_count(_text(data, name), low, high)
        if number is None:
            errors[name] = message
        else:
            values[column] = number
    if errors:
        raise SettingsError(errors)
    return values


def save_settings(user: User, form_data: Mapping) -> AutomationSettings:
    """Check and save the resident's settings (creating the row the first time). Commits."""
    values = parse_settings(form_data)
    settings = db.session.scalar(select(AutomationSettings).where(AutomationSettings.user_id == user.id))
    if settings is None:
        settings = AutomationSettings(user_id=user.id)
        db.session.add(settings)
    for column, value in values.items():
        setattr(settings, column, value)
    db.session.commit()
    return settings
