"""A resident's rules for all their automations: minimum balance, monthly caps, reminders,
grace window and when repeated failures pause an automation.

Reading never writes (unsaved defaults come from ``common.settings_for``); the row is created
on the first save.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationSettings, User
from webapp.services.automations.common import settings_for


@dataclass(frozen=True)
class SettingsInput:
    """The settings as the resident chose them, in the ``AutomationSettings`` columns' names and units
    (kobo, hours, a count). A cap of None is no cap; a minimum balance of 0 lets automations use
    the whole wallet."""

    reminder_lead_hours: int
    grace_hours: int
    pause_after_failures: int
    min_balance_kobo: int = 0
    monthly_cap_kobo: int | None = None
    electricity_cap_kobo: int | None = None
    water_cap_kobo: int | None = None
    internet_cap_kobo: int | None = None
    cable_tv_cap_kobo: int | None = None
    estate_bills_cap_kobo: int | None = None


def get_settings(user_id: int) -> AutomationSettings:
    """The saved settings, or the defaults (not added to the session)."""
    return settings_for(user_id)


def save_settings(user: User, values: SettingsInput) -> AutomationSettings:
    """Save the resident's settings (creating the row the first time). Commits."""
    settings = db.session.scalar(select(AutomationSettings).where(AutomationSettings.user_id == user.id))
    if settings is None:
        settings = AutomationSettings(user_id=user.id)
        db.session.add(settings)
    for column, value in asdict(values).items():
        setattr(settings, column, value)
    db.session.commit()
    return settings
