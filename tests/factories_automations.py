"""Factories for automation tests: enabled automations with their next run already set."""
from __future__ import annotations

from datetime import date, datetime, time

from webapp.extensions import db
from webapp.models import Automation, AutomationSettings, Bill, User, UtilityAccount
from webapp.services.automations import schedule_of


def make_automation(user: User, account: UtilityAccount | None = None, *, amount_kobo: int | None = 5_000_00,
                    first_run: datetime, enabled: bool = True, **fields) -> Automation:
    """An automation whose ``next_run_at`` is ``first_run`` (a run of its schedule)."""
    local = first_run.astimezone(__import__("zoneinfo").ZoneInfo(fields.get("timezone", "Africa/Lagos")))
    values = {
        "target_kind": "utility" if account is not None else "estate_bill",
        "utility_account_id": account.id if account is not None else None,
        "amount_mode": "fixed", "amount_kobo": amount_kobo, "schedule_kind": "monthly_day",
        "day_of_month": local.day, "time_of_day": time(local.hour, local.minute),
        "starts_on": date(local.year, local.month, 1), "enabled": enabled, "timezone": "Africa/Lagos",
        **fields,
    }
    automation = Automation(user_id=user.id, estate_id=user.estate_id, **values)
    db.session.add(automation)
    db.session.flush()
    automation.next_run_at = schedule_of(automation).next_after(first_run, inclusive=True)
    assert automation.next_run_at == first_run, "first_run must be an occurrence of the schedule"
    db.session.commit()
    return automation


def save_settings(user: User, **fields) -> AutomationSettings:
    settings = AutomationSettings(user_id=user.id, **fields)
    db.session.add(settings)
    db.session.commit()
    return settings


def make_estate_bill(user: User, amount_kobo: int = 20_000_00, bill_type: str = "service_charge",
                     due_date: date | None = None, **fields) -> Bill:
    bill = Bill(estate_id=user.estate_id, user_id=user.id, bill_type=bill_type, category="cluster_managed",
                title=fields.pop("title", bill_type.replace("_", " ").title()), amount_kobo=amount_kobo,
                due_date=due_date, **fields)
    db.session.add(bill)
    db.session.commit()
    return bill
