"""Upcoming payments: the next 31 days of automation runs and estate bills, the wallet balance
projected after each, and the shortfall warning. ``frozen`` stops the clock on Friday 10 January 2025,
09:00 in Lagos (tests/fixtures_automations.py)."""
from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from webapp.extensions import db
from webapp.models import AutomationOccurrence, Bill
from webapp.money import naira, whole_naira
from webapp.queries.upcoming import upcoming
from webapp.services import ledger
from webapp.services.automations import crud, prediction, settings
from webapp.services.automations.inputs import AutomationInput
from webapp.services.automations.schedules import Schedule
from webapp.services.automations.settings import SettingsInput

from .factories_payments import make_payment, make_utility_account


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
    return [(item.when, item.label, item.status, item.counted_kobo, item.balance_after_kobo) for item in view.items]


def test_projects_what_the_sweep_pays_and_never_below_the_minimum(two_automations, funded):
    view = upcoming(funded)
    lagos_9am = [datetime(2025, 1, d, 8, 0, tzinfo=UTC) for d in (13, 15, 22, 29)] + \
                [datetime(2025, 2, 5, 8, 0, tzinfo=UTC)]
    home, shop = "Home meter (Ikeja Electric Prepaid)", "Shop meter (Ikeja Electric Prepaid)"
    assert view.start_balance_kobo == 10_000_00
    # ₦5,100 leaves ₦2,900 above the ₦2,000 minimum: the sweep never pays ₦6,400 from that, so each
    # Wednesday run waits out its grace period and is missed unless money is added.
    assert rows(view) == [
        (lagos_9am[0], home, "paid", 5_100_00, 4_900_00),
        (lagos_9am[1], shop, "short", 0, 4_900_00),
        (lagos_9am[2], shop, "short", 0, 4_900_00),
        (lagos_9am[3], shop, "short", 0, 4_900_00),
        (lagos_9am[4], shop, "short", 0, 4_900_00),
    ]  # Feb 13 is past the 31 days (until Feb 10, 09:00)
    assert view.items[1].wanted_kobo == 6_300_00 and view.items[1].status_words == "Not covered"
    assert view.items[1].note.startswith("Wallet short: missed Sat 18 Jan")  # 72 hours of grace


def test_shortfall_names_the_first_day_short_and_the_top_up_that_covers_it(two_automations, funded):
    shortfall = upcoming(funded).shortfall
    # Wednesday the 15th needs ₦6,400 and ₦2,900 is spendable: ₦3,500 more pays it.
    assert shortfall.date == date(2025, 1, 15) and shortfall.short_by_kobo == 3_500_00
    assert shortfall.sentence == "₦3,500 short for payments due by Wednesday — fund wallet"


def test_the_top_up_covers_the_projection_it_names(two_automations, funded):
    before = upcoming(funded)
    ledger.credit_funding(funded.id, before.shortfall.short_by_kobo, "paystack", "FUND-UPCOMING-2")
    db.session.commit()
    after = upcoming(funded)
    assert [i.status for i in after.items][:2] == ["paid", "paid"] and after.items[1].balance_after_kobo == 2_000_00
    assert after.shortfall.date == date(2025, 1, 22)  # the next Wednesday is short again
    ledger.credit_funding(funded.id, before.shortfall.short_by_kobo - 1_00, "paystack", "FUND-UPCOMING-3")
    db.session.commit()
    assert upcoming(funded).shortfall.short_by_kobo == 6_400_00 - 3_499_00  # ₦1 less covers less


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


def test_a_monthly_cap_is_applied_as_the_sweep_applies_it(frozen, funded, water):
    """The walk-through's case: a ₦1,000 water cap and ₦2,000 of water every day. The sweep pays
    ₦1,000 once (partial payments allowed) and nothing more until the month ends."""
    settings.save_settings(funded, SettingsInput(min_balance_kobo=2_000_00, reminder_lead_hours=24, grace_hours=72,
                                                 pause_after_failures=3, water_cap_kobo=1_000_00))
    tap = make_utility_account(funded, water, number="0101010101", nickname="Tap")
    running(funded, tap, amount_kobo=2_000_00, allow_partial=True,
            schedule=replace(ON_THE_13TH, kind="interval", interval_unit="day", day_of_month=None,
                                     starts_on=date(2025, 1, 10), time_of_day=time(10, 0)))
    view = upcoming(funded)
    january = [i for i in view.items if i.when.month == 1]
    assert [(i.status, i.amount_kobo) for i in january[:3]] == [("partial", 1_000_00), ("capped", 0), ("capped", 0)]
    assert january[0].note == "Capped at ₦1,000 this month for water: pays ₦1,000 of ₦2,000"
    assert {i.status for i in january[1:]} == {"capped"} and len(january) == 22  # 10 to 31 January
    february = [i for i in view.items if i.when.month == 2]
    assert [(i.status, i.amount_kobo) for i in february[:2]] == [("partial", 1_000_00), ("capped", 0)]
    assert view.shortfall is None and [m.total_kobo for m in view.months] == [1_100_00, 1_100_00]  # with the fee
    assert view.end_balance_kobo == 7_800_00  # ₦1,100 a month leaves the wallet: never ₦2,100 a day


def test_a_higher_priority_run_is_paid_first_and_the_other_waits(frozen, funded, prepaid):
    home = make_utility_account(funded, prepaid, nickname="Home meter")
    shop = make_utility_account(funded, prepaid, number="4444444444444", nickname="Shop meter")
    running(funded, shop, amount_kobo=5_000_00, priority=1)
    running(funded, home, amount_kobo=5_000_00, priority=3)
    first, second = upcoming(funded).items[:2]
    assert (first.label, first.status) == ("Home meter (Ikeja Electric Prepaid)", "paid")
    assert (second.label, second.status) == ("Shop meter (Ikeja Electric Prepaid)", "short")


def test_weeks_start_on_monday_with_their_totals_and_only_the_first_ones_open(two_automations, funded):
    ledger.credit_funding(funded.id, 30_000_00, "paystack", "FUND-UPCOMING-4")
    db.session.commit()
    view = upcoming(funded)
    assert [(w.label, w.start, len(w.items), w.total_kobo, w.open) for w in view.weeks] == [
        ("Next week", date(2025, 1, 13), 2, 11_500_00, True),  # Friday the 10th: nothing more this week
        ("Week of 20 Jan", date(2025, 1, 20), 1, 6_400_00, False),
        ("Week of 27 Jan", date(2025, 1, 27), 1, 6_400_00, False),
        ("Week of 3 Feb", date(2025, 2, 3), 1, 6_400_00, False),
    ]
    assert [(m.label, m.total_kobo) for m in view.months] == [("January 2025", 24_300_00),
                                                            ("February 2025", 6_400_00)]


def test_skipped_run_is_listed_but_not_counted(two_automations, funded):
    _monthly, weekly = two_automations
    crud.skip_next(funded, weekly.id)
    view = upcoming(funded)
    skipped = [item for item in view.items if item.skipped]
    assert len(skipped) == 1 and skipped[0].when == datetime(2025, 1, 15, 8, 0, tzinfo=UTC)
    assert skipped[0].counted_kobo == 0 and skipped[0].balance_after_kobo == 4_900_00
    assert view.shortfall.date == date(2025, 1, 22)
    assert view.shortfall.sentence == "₦3,500 short for payments due by 22 January — fund wallet"
    assert [w.open for w in view.weeks] == [True, True, False, False]  # the shortfall's week is open too


def test_paused_off_and_deleted_automations_are_left_out(two_automations, funded):
    monthly, weekly = two_automations
    crud.pause(funded, monthly.id)
    crud.delete(funded, weekly.id)
    assert upcoming(funded).items == []


def test_estate_bills_due_within_31_days_or_overdue_are_included(frozen, funded):
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
            schedule=every_week_on(0))  # Mondays: 13, 20, 27 Jan, 3 and 10 Feb
    view = upcoming(funded)
    assert [(i.kind, i.amount_kobo, i.bill_id is not None) for i in view.items] == [
        ("automation", 4_000_00, True), *[("automation", 0, False)] * 4]
    assert view.items[1].note == "Nothing to pay unless a new bill is issued"
    assert view.end_balance_kobo == 6_000_00


def test_full_outstanding_of_a_utility_is_decided_at_run_time(frozen, funded, postpaid):
    account = make_utility_account(funded, postpaid, number="2222222222222")
    automation = running(funded, account, amount_mode="full_outstanding", amount_kobo=None)
    item = upcoming(funded).items[0]
    assert (item.status, item.amount_kobo, item.counted_kobo) == ("unknown", None, 0)
    assert item.note == "Amount decided at run time"

    db.session.add(AutomationOccurrence(automation_id=automation.id, user_id=funded.id, status="paid",
                                        scheduled_for=datetime(2024, 12, 13, 8, 0, tzinfo=UTC), amount_kobo=7_250_00))
    db.session.commit()
    item = upcoming(funded).items[0]
    assert item.estimate and item.amount_kobo == 7_250_00 and item.counted_kobo == 7_350_00  # last amount plus fee
    assert "the amount the provider last reported stands in" in item.note
    assert item.estimate_low_kobo is None  # one reported amount is no history of bills


def test_a_variable_bill_is_projected_from_the_accounts_past_bills(frozen, funded, postpaid, auth, client):
    """Postpaid bills of ₦6,000, ₦8,000 (paid in two parts), ₦7,000 and ₦9,000, newest last: the
    estimate leans to the recent bills and the range spans them; it drives the projected balance."""
    account = make_utility_account(funded, postpaid, number="2222222222222")
    for when, amount in [(datetime(2024, 9, 13, 8), 6_000_00), (datetime(2024, 10, 13, 8), 5_000_00),
                         (datetime(2024, 10, 14, 8), 3_000_00), (datetime(2024, 11, 13, 8), 7_000_00),
                         (datetime(2024, 12, 13, 8), 9_000_00)]:
        make_payment(funded, account, amount_kobo=amount, created_at=when.replace(tzinfo=UTC))
    make_payment(funded, account, status="failed", amount_kobo=50_000_00, created_at=datetime(2024, 12, 20, tzinfo=UTC))
    db.session.commit()
    running(funded, account, amount_mode="full_outstanding", amount_kobo=None)

    item = upcoming(funded).items[0]
    expected = prediction.estimate([9_000_00, 7_000_00, 8_000_00, 6_000_00]).expected_kobo
    assert 7_500_00 < expected < 8_000_00  # the weighted mean leans to ₦9,000 and ₦7,000
    assert (item.estimate, item.amount_kobo, item.counted_kobo) == (True, expected, expected + 100_00)
    assert (item.estimate_low_kobo, item.estimate_high_kobo) == (6_000_00, 9_000_00)
    assert item.balance_after_kobo == 10_000_00 - expected - 100_00
    assert "Expected from your last 4 bills (₦6,000–₦9,000; it varies)" in item.note

    auth.login(funded.email)
    page = html.unescape(client.get("/automations/upcoming").get_data(as_text=True))
    assert re.search(r'<span class="muted">about</span> ' + re.escape(naira(expected)), page)
    assert '<small class="muted">₦6,000–₦9,000</small>' in page


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


def test_upcoming_page_shows_the_weeks_and_the_top_up_that_covers_the_shortfall(two_automations, auth, client,
                                                                               funded):
    crud.skip_next(funded, two_automations[1].id)
    auth.login(funded.email)
    text = html.unescape(client.get("/automations/upcoming").get_data(as_text=True))
    assert "₦3,500 short for payments due by 22 January" in text
    assert '<a class="button primary" id="add-shortfall" href="/wallet/fund?amount=350000">Add ₦3,500</a>' in text
    assert "Mon 13 Jan, 09:00" in text and "₦4,900.00" in text and "Not covered" in text
    assert "Skipped" in text and "<s>₦6,300.00</s>" in text
    assert '<details class="card week" id="week-2025-01-13" open>' in text  # next week: Friday has no more
    assert '<details class="card week" id="week-2025-01-27">' in text  # later weeks collapsed
    assert "January 2025" in text and "February 2025" in text
    fund_page = client.get("/wallet/fund?amount=350000").get_data(as_text=True)
    assert 'name="amount" type="text" value="3500"' in fund_page  # prefilled, and the resident can change it


@pytest.mark.parametrize("amount", ["", "abc", "-5", "0", "1e9", "99999999999999999999", "3500.5"])
def test_a_bad_amount_in_the_fund_link_leaves_the_box_empty(auth, client, funded, amount):
    auth.login(funded.email)
    response = client.get(f"/wallet/fund?amount={amount}")
    assert response.status_code == 200 and 'name="amount" type="text" value=""' in response.get_data(as_text=True)


# The home screen's "am I covered?" card: the next 7 days.

def next_card(client) -> str:
    response = client.get("/automations/upcoming/next", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def listed(card: str) -> list[tuple[str, str, str]]:
    rows = card.split('id="next-list"')[1]
    row = r'<strong>(.*?)</strong>.*?<span class="row-side">\s*(₦[\d,.]+).*?<span class="badge[^"]*">(.*?)</span>'
    return re.findall(row, rows, re.S)


def test_home_loads_the_next_seven_days_with_the_top_up_that_covers_them(two_automations, auth, client, funded):
    auth.login(funded.email)
    assert 'hx-get="/automations/upcoming/next" hx-trigger="load"' in client.get("/").get_data(as_text=True)
    card = next_card(client)
    assert "₦3,500 short for payments due by Wednesday" in card
    assert 'href="/wallet/fund?amount=350000">Add ₦3,500</a>' in card
    assert listed(card) == [("Home meter (Ikeja Electric Prepaid)", "₦5,000.00", "Covered"),
                            ("Shop meter (Ikeja Electric Prepaid)", "₦6,300.00", "Not covered")]


def test_the_next_seven_days_covered(frozen, auth, client, funded, prepaid):
    running(funded, make_utility_account(funded, prepaid, nickname="Home meter"), amount_kobo=2_000_00)
    auth.login(funded.email)
    card = next_card(client)
    assert "Covered: your wallet pays the payment due (₦2,100.00)." in card and 'id="next-shortfall"' not in card
    assert listed(card) == [("Home meter (Ikeja Electric Prepaid)", "₦2,000.00", "Covered")]


def test_the_next_seven_days_with_nothing_due(frozen, auth, client, funded, prepaid):
    running(funded, make_utility_account(funded, prepaid), schedule=replace(ON_THE_13TH, day_of_month=25))
    auth.login(funded.email)
    card = next_card(client)
    assert "Nothing is due in the next 7 days." in card and 'id="next-list"' not in card


def test_the_next_seven_days_without_htmx_is_the_upcoming_page(auth, client, funded):
    auth.login(funded.email)
    response = client.get("/automations/upcoming/next")
    assert response.status_code == 302 and response.headers["Location"] == "/automations/upcoming"
