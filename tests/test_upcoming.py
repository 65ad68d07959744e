"""Upcoming payments: the next 30 days of automation runs and estate bills, the wallet balance
projected after each, and the shortfall warning. ``frozen`` stops the clock on Friday 10 January 2025,
09:00 in Lagos (tests/fixtures_automations.py)."""
from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from webapp.extensions import db
from webapp.models import AutomationOccurrence, Bill
from webapp.money import whole_naira
from webapp.queries.upcoming import upcoming
from webapp.services import ledger
from webapp.services.automations import crud, settings
from webapp.services.automations.inputs import AutomationInput
from webapp.services.automations.schedules import Schedule
from webapp.services.automations.settings import SettingsInput

from .factories_payments import make_utility_account


@pytest.fixture
def funded(resident):
    """₦10,000 in the wallet and a ₦2,000 minimum balance."""
    ledger.credit_funding(resident.id, 10_000_00, "paystack", "FUND-UPCOMING-1")
    db.session.commit()
    settings.save_settings(resident, SettingsInput(min_balance_kobo=2_000_00, reminder_lead_hours=24, grace_hours=72,
                                                   pause_after_failures=3))
    return resident


ON_THE_13TH = Schedule(kind="monthly_day", day_of_month=13, time_of_day=time(9, 0), timezone="Africa/Lagos",
                       starts_on=date(2025, 1, 1))


def every_week_on(*days: int, **changes) -> Schedule:
    return replace(ON_THE_13TH, kind="weekly", day_of_month=None, weekdays=days, **changes)


def running(user, account=None, bill_type: str | None = None, schedule: Schedule = ON_THE_13TH, **fields):
    """An automation that is switched on (at the frozen time): ₦5,000 from the wallet on the 13th
    of each month at 09:00 in Lagos, unless told otherwise."""
    draft = AutomationInput(target_kind="utility" if account else "estate_bill",
                            utility_account_id=account.id if account else None, bill_type=bill_type,
                            schedule=schedule, **{"amount_kobo": 5_000_00, **fields})
    automation = crud.create_automation(user, draft)
    crud.enable(user, automation.id)
    return automation


@pytest.fixture
def two_automations(frozen, funded, prepaid):
    """₦5,000 on Monday the 13th and ₦6,300 every Wednesday, each with a ₦100 fee."""
    home = make_utility_account(funded, prepaid, nickname="Home meter")
    shop = make_utility_account(funded, prepaid, number="4444444444444", nickname="Shop meter")
    monthly = running(funded, home)
    wednesdays = running(funded, shop, amount_kobo=6_300_00, schedule=every_week_on(2))
    return monthly, wednesdays


def make_bill(user, amount_kobo: int, due_date: date | None, bill_type: str = "service_charge",
              status: str = "pending", title: str = "Service charge Q1") -> Bill:
    bill = Bill(estate_id=user.estate_id, user_id=user.id, bill_type=bill_type, category="cluster_managed",
                title=title, amount_kobo=amount_kobo, due_date=due_date, status=status)
    db.session.add(bill)
    db.session.commit()
    return bill


def rows(view):
    return [(item.when, item.label, item.counted_kobo, item.balance_after_kobo) for item in view.items]


def test_projects_the_balance_after_each_payment_in_date_order(two_automations, funded):
    view = upcoming(funded)
    lagos_9am = [datetime(2025, 1, d, 8, 0, tzinfo=UTC) for d in (13, 15, 22, 29)] + \
                [datetime(2025, 2, 5, 8, 0, tzinfo=UTC)]
    assert view.start_balance_kobo == 10_000_00
    assert rows(view) == [
        (lagos_9am[0], "Home meter (Ikeja Electric Prepaid)", 5_100_00, 4_900_00),
        (lagos_9am[1], "Shop meter (Ikeja Electric Prepaid)", 6_400_00, -1_500_00),
        (lagos_9am[2], "Shop meter (Ikeja Electric Prepaid)", 6_400_00, -7_900_00),
        (lagos_9am[3], "Shop meter (Ikeja Electric Prepaid)", 6_400_00, -14_300_00),
        (lagos_9am[4], "Shop meter (Ikeja Electric Prepaid)", 6_400_00, -20_700_00),
    ]  # Feb 13 is past the 30 days (until Feb 9)


def test_shortfall_names_the_first_day_below_the_minimum_and_the_amount(two_automations, funded):
    shortfall = upcoming(funded).shortfall
    # Wednesday the 15th ends at -₦1,500; keeping ₦2,000 needs ₦3,500 more.
    assert shortfall.date == date(2025, 1, 15) and shortfall.short_by_kobo == 3_500_00
    assert shortfall.sentence == "₦3,500 short for payments due by Wednesday — fund wallet"


def test_shortfall_counts_every_payment_due_that_day(two_automations, funded, prepaid):
    third = make_utility_account(funded, prepaid, number="5555555555555", nickname="Gate meter")
    running(funded, third, amount_kobo=1_000_00, schedule=every_week_on(2, time_of_day=time(18, 0)))
    assert upcoming(funded).shortfall.short_by_kobo == 4_600_00  # ₦3,500 + ₦1,000 + ₦100 fee


def test_a_shortfall_more_than_a_week_away_names_the_date(frozen, funded, prepaid):
    home = make_utility_account(funded, prepaid)
    running(funded, home, amount_kobo=9_000_00, schedule=replace(ON_THE_13TH, day_of_month=25))
    shortfall = upcoming(funded).shortfall
    assert shortfall.sentence == "₦1,100 short for payments due by 25 January — fund wallet"


def test_no_shortfall_when_the_wallet_covers_everything(frozen, funded, prepaid):
    home = make_utility_account(funded, prepaid)
    running(funded, home, amount_kobo=2_000_00)
    view = upcoming(funded)
    assert view.shortfall is None and view.end_balance_kobo == 7_900_00


def test_skipped_run_is_listed_but_not_counted(two_automations, funded):
    _monthly, weekly = two_automations
    crud.skip_next(funded, weekly.id)
    view = upcoming(funded)
    skipped = [item for item in view.items if item.skipped]
    assert len(skipped) == 1 and skipped[0].when == datetime(2025, 1, 15, 8, 0, tzinfo=UTC)
    assert skipped[0].counted_kobo == 0 and skipped[0].balance_after_kobo == 4_900_00
    assert view.shortfall.date == date(2025, 1, 22)
    assert view.shortfall.sentence == "₦3,500 short for payments due by 22 January — fund wallet"


def test_paused_off_and_deleted_automations_are_left_out(two_automations, funded):
    monthly, weekly = two_automations
    crud.pause(funded, monthly.id)
    crud.delete(funded, weekly.id)
    assert upcoming(funded).items == []


def test_estate_bills_due_within_30_days_or_overdue_are_included(frozen, funded):
    make_bill(funded, 4_000_00, date(2025, 1, 17), title="Service charge Q1")
    make_bill(funded, 1_000_00, date(2025, 1, 2), bill_type="security", title="Security December")
    make_bill(funded, 2_500_00, None, bill_type="maintenance", status="overdue", title="Generator repair")
    make_bill(funded, 9_000_00, date(2025, 3, 1), bill_type="maintenance", title="Too far ahead")
    make_bill(funded, 9_000_00, date(2025, 1, 20), bill_type="waste_management", status="paid", title="Paid already")
    partly = make_bill(funded, 3_000_00, date(2025, 1, 31), bill_type="waste_management", title="Waste January")
    partly.amount_paid_kobo, partly.status = 1_000_00, "partially_paid"
    db.session.commit()

    view = upcoming(funded)
    assert [(i.label, i.counted_kobo, i.overdue) for i in view.items] == [
        ("Security December", 1_000_00, True),
        ("Generator repair", 2_500_00, True),
        ("Service charge Q1", 4_000_00, False),
        ("Waste January", 2_000_00, False),
    ]
    assert view.end_balance_kobo == 500_00
    assert view.shortfall.sentence == "₦1,500 short for payments due by 31 January — fund wallet"


def test_a_bill_paid_by_an_automation_is_counted_once(frozen, funded):
    make_bill(funded, 4_000_00, date(2025, 1, 17))
    running(funded, bill_type="service_charge", amount_mode="full_outstanding", amount_kobo=None,
            schedule=every_week_on(0))  # Mondays: 13, 20, 27 Jan and 3 Feb
    view = upcoming(funded)
    assert [(i.kind, i.amount_kobo, i.bill_id is not None) for i in view.items] == [
        ("automation", 4_000_00, True), ("automation", 0, False), ("automation", 0, False),
        ("automation", 0, False),
    ]
    assert view.items[1].note == "Nothing to pay unless a new bill is issued"
    assert view.end_balance_kobo == 6_000_00


def test_full_outstanding_of_a_utility_is_decided_at_run_time(frozen, funded, postpaid):
    account = make_utility_account(funded, postpaid, number="2222222222222")
    automation = running(funded, account, amount_mode="full_outstanding", amount_kobo=None)
    item = upcoming(funded).items[0]
    assert item.amount_kobo is None and item.estimate_kobo is None and item.counted_kobo == 0
    assert "Amount decided at run time" in item.note

    db.session.add(AutomationOccurrence(automation_id=automation.id, user_id=funded.id, status="paid",
                                        scheduled_for=datetime(2024, 12, 13, 8, 0, tzinfo=UTC), amount_kobo=7_250_00))
    db.session.commit()
    item = upcoming(funded).items[0]
    assert item.estimate_kobo == 7_250_00 and item.counted_kobo == 7_350_00  # last amount plus the fee


def test_a_run_waiting_for_money_comes_first(two_automations, funded):
    monthly, _weekly = two_automations
    db.session.add(AutomationOccurrence(automation_id=monthly.id, user_id=funded.id, status="waiting",
                                        scheduled_for=datetime(2024, 12, 13, 8, 0, tzinfo=UTC),
                                        retry_until=datetime(2025, 1, 12, 8, 0, tzinfo=UTC)))
    db.session.commit()
    first = upcoming(funded).items[0]
    assert first.waiting and first.counted_kobo == 5_100_00 and first.balance_after_kobo == 4_900_00


def test_card_payments_do_not_reduce_the_wallet(frozen, funded, prepaid):
    from webapp.models import SavedCard

    db.session.add(SavedCard(user_id=funded.id, authorization_code="AUTH_x", last4="4081", brand="visa"))
    db.session.commit()
    home = make_utility_account(funded, prepaid)
    running(funded, home, payment_source="card", amount_kobo=20_000_00)
    view = upcoming(funded)
    assert view.items[0].from_card and view.end_balance_kobo == 10_000_00 and view.shortfall is None


def test_another_residents_payments_are_not_shown(two_automations, other_resident):
    assert upcoming(other_resident).items == []


def test_whole_naira_drops_zero_kobo_only():
    assert whole_naira(3_500_00) == "₦3,500" and whole_naira(3_500_50) == "₦3,500.50"


def test_upcoming_page_shows_the_table_and_the_warning_with_a_fund_link(two_automations, auth, client, funded):
    crud.skip_next(funded, two_automations[1].id)
    auth.login(funded.email)
    text = html.unescape(client.get("/automations/upcoming").get_data(as_text=True))
    assert "₦3,500 short for payments due by 22 January" in text
    assert 'href="/wallet/fund">fund wallet</a>' in text
    assert "Mon 13 Jan, 09:00" in text and "₦4,900.00" in text and "-₦14,300.00" in text
    assert "Skipped" in text and "<s>₦6,300.00</s>" in text
