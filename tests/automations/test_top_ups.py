"""Keep my meter topped up (automations.top_ups): bought before the meter is predicted to run out,
with the real sweep, the real worker and the sandbox, the clock walked with time-machine.

The meter's history: 100 kWh bought by hand every 10 days, when empty (10 kWh a day), the last
8 days before START, so it runs out 2 days after START and a top-up with a day's lead is due one
day after START."""
from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AutomationOccurrence, Notification, Payment
from webapp.queries.upcoming import upcoming
from webapp.services import automations, ledger
from webapp.services.automations import crud, top_ups
from webapp.services.automations.inputs import AutomationError, AutomationInput
from webapp.services.automations.schedules import Schedule

from ..factories_automations import save_settings
from ..factories_payments import make_catalogue_entry, make_payment, make_utility_account
from ..payments.helpers import run_worker

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # Monday 1 March 2027, 09:00 in Lagos
DUE = START + timedelta(days=1)  # a day before the predicted run-out
PRICE = 209_50  # the sandbox's tariff: kobo per kWh
RUN_OUT = Schedule(kind="run_out", starts_on=date(2027, 3, 1), timezone="Africa/Lagos", lead_hours=24)


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
def power(estate):
    return make_catalogue_entry(estate)  # Ikeja Electric prepaid through VTpass, ₦100 fee


@pytest.fixture
def meter(clock, sandbox, resident, power):
    # The sandbox keeps the machine's clock: VTpass's request_id date rules are not this test's subject.
    sandbox.configure(request_id_today_only=False, request_id_window_hours=None)
    account = make_utility_account(resident, power, number="1111111111111", nickname="Home meter")
    for days_ago in (28, 18, 8):
        make_payment(resident, account, amount_kobo=100 * PRICE, created_at=START - timedelta(days=days_ago),
                     units="100.0")
    ledger.credit_funding(resident.id, 50_000_00, "paystack", "FUND-TOPUP-1")
    db.session.commit()
    return account


def top_up(resident, account, **changes) -> AutomationInput:
    values = {"amount_kobo": 10_000_00, "schedule": RUN_OUT, **changes}
    return AutomationInput(target_kind="utility", utility_account_id=account.id, bill_type=None, **values)


def switched_on(resident, account, **changes):
    automation = crud.create_automation(resident, top_up(resident, account, **changes))
    return crud.enable(resident, automation.id)


def sweep_at(clock, when: datetime):
    clock.move_to(when)
    report = automations.run_sweep(when)
    run_worker()
    return report


def purchases(resident) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.user_id == resident.id,
                                                         Payment.source == "automation").order_by(Payment.id)))


def inbox(resident) -> list[tuple[str, str]]:
    return [(n.title, n.body) for n in db.session.scalars(
        select(Notification).where(Notification.user_id == resident.id).order_by(Notification.id))]


def test_turned_on_it_plans_the_top_up_a_day_before_the_run_out(clock, resident, meter):
    automation = switched_on(resident, meter)
    assert automation.next_run_at == DUE
    assert crud.state_of(automation) == crud.ON
    found = top_ups.forecast_for(automation, START)
    assert found.run_out.runs_out_at == START + timedelta(days=2)
    assert float(found.units) == pytest.approx(10_000_00 / PRICE, abs=0.1) and found.every.days == 4


def test_the_top_up_is_bought_once_at_its_time_and_the_next_planned_from_it(clock, resident, meter):
    automation = switched_on(resident, meter)
    sweep_at(clock, DUE - timedelta(minutes=1))
    assert purchases(resident) == []

    sweep_at(clock, DUE)
    bought = purchases(resident)
    assert [(p.status, p.amount_kobo, p.utility_account_id) for p in bought] == [("succeeded", 10_000_00, meter.id)]
    assert bought[0].units == "47.7 kWh"  # the sandbox's units for ₦10,000 at ₦209.50 a kWh

    # The next sweeps plan the next top-up from the meter with this one in it, and buy nothing more.
    for later in (DUE + timedelta(minutes=1), DUE + timedelta(minutes=2), DUE + timedelta(hours=6)):
        sweep_at(clock, later)
    db.session.refresh(automation)
    assert len(purchases(resident)) == 1
    # 47.7 kWh bought with a day's use (10 kWh) still in the meter: 5.77 days, less the day's lead.
    expected = DUE + timedelta(days=(47.7 + 10) / 10) - timedelta(days=1)
    assert abs(automation.next_run_at - expected) < timedelta(minutes=30)
    assert ledger.wallet_balance(resident.id) == 50_000_00 - 10_100_00  # debited once, with the fee


def test_a_top_up_the_resident_buys_moves_the_next_one_later(clock, resident, meter):
    automation = switched_on(resident, meter)
    make_payment(resident, meter, amount_kobo=100 * PRICE, created_at=START + timedelta(minutes=30), units="100.0")
    db.session.commit()
    sweep_at(clock, START + timedelta(hours=1))
    db.session.refresh(automation)
    # Bought by hand (so taken as bought when empty) it also tells of faster use: about 12.5 kWh a day.
    assert DUE + timedelta(days=6) < automation.next_run_at < DUE + timedelta(days=8)
    sweep_at(clock, DUE)
    assert purchases(resident) == []


def test_a_cap_stops_the_top_up_with_a_notice_and_it_is_tried_a_day_later(clock, resident, meter):
    save_settings(resident, electricity_cap_kobo=5_000_00)
    automation = switched_on(resident, meter)
    sweep_at(clock, DUE)
    assert purchases(resident) == []
    occurrence = db.session.scalar(select(AutomationOccurrence).where(
        AutomationOccurrence.automation_id == automation.id))
    assert occurrence.status == "limit_reached"
    assert ("Limit reached", "Automatic payment for Home meter was not paid: Your ₦5,000 monthly cap for "
                             "electricity was reached.") in inbox(resident)

    sweep_at(clock, DUE + timedelta(minutes=1))  # plans the retry, not another attempt now
    db.session.refresh(automation)
    assert DUE + timedelta(days=1) <= automation.next_run_at <= DUE + timedelta(days=1, minutes=2)
    assert db.session.scalar(select(func.count()).select_from(AutomationOccurrence)) == 1


def test_a_short_wallet_holds_the_top_up_with_a_notice(clock, resident, meter):
    save_settings(resident, min_balance_kobo=45_000_00)  # ₦50,000 in the wallet, ₦45,000 kept
    automation = switched_on(resident, meter)
    sweep_at(clock, DUE)
    assert purchases(resident) == []
    occurrence = db.session.scalar(select(AutomationOccurrence).where(
        AutomationOccurrence.automation_id == automation.id))
    assert occurrence.status == "waiting"
    assert any(title == "Low wallet balance" and "Home meter" in body for title, body in inbox(resident))


def test_the_day_before_notice_says_when_and_what_or_why_not(clock, resident, meter):
    switched_on(resident, meter)
    assert automations.send_reminders(START) == 1
    title, body = inbox(resident)[-1]
    assert title == "Meter top-up coming"
    assert body == ("Home meter is predicted to run out around Wed 03 Mar, 09:00. A top-up of ₦10,000.00 "
                    "(₦10,100.00 with the fee) will be bought at Tue 02 Mar, 09:00.")
    assert automations.send_reminders(START) == 0  # once per run


def test_the_notice_says_what_to_add_when_the_wallet_cannot_cover_it(clock, resident, meter):
    save_settings(resident, min_balance_kobo=45_000_00)
    switched_on(resident, meter)
    automations.send_reminders(START)
    body = inbox(resident)[-1][1]
    assert body.endswith("Your wallet cannot cover it: add ₦5,100.00 before then.")


def test_the_notice_says_a_cap_would_stop_it(clock, resident, meter):
    save_settings(resident, monthly_cap_kobo=1_000_00)
    switched_on(resident, meter)
    automations.send_reminders(START)
    assert "It cannot be bought: a spending limit or monthly cap would stop it." in inbox(resident)[-1][1]


def test_enough_for_a_number_of_days_buys_the_predicted_use(clock, resident, meter):
    """10 kWh a day for 7 days at ₦209.50 a kWh is ₦14,665, rounded up to ₦14,700."""
    automation = switched_on(resident, meter, amount_mode="cover_days", amount_kobo=None, cover_days=7)
    assert top_ups.amount_now(automation, START) == 14_700_00
    item = upcoming(resident).items[0]
    assert (item.amount_kobo, item.estimate) == (14_700_00, True)
    assert item.note == ("Tops up before the meter runs out; Enough for 7 days at the meter's predicted use and "
                         "recent price")
    sweep_at(clock, DUE)
    assert [p.amount_kobo for p in purchases(resident)] == [14_700_00]


def test_upcoming_shows_the_top_ups_as_the_meter_would_need_them(clock, resident, meter):
    switched_on(resident, meter)
    runs = [item for item in upcoming(resident).items if item.kind == "automation"]
    assert runs[0].when == DUE and runs[0].amount_kobo == 10_000_00
    assert [b.when - a.when for a, b in zip(runs, runs[1:])] == [runs[1].when - runs[0].when] * (len(runs) - 1)
    assert timedelta(days=4.7) < runs[1].when - runs[0].when < timedelta(days=4.8)  # 47.7 kWh at 10 a day


def test_only_a_prepaid_meter_with_top_ups_can_be_kept_topped_up(clock, resident, estate, power, meter):
    postpaid = make_catalogue_entry(estate, name="Ikeja Electric Postpaid", item_code="postpaid",
                                    meter_type="postpaid")
    office = make_utility_account(resident, postpaid, number="2222222222222", nickname="Office")
    new_meter = make_utility_account(resident, power, number="1212121212121", nickname="New meter")
    with pytest.raises(AutomationError) as refused:
        crud.create_automation(resident, top_up(resident, office))
    assert refused.value.errors == {"schedule_kind": "Topping up before the meter runs out works only for a "
                                                     "prepaid electricity meter."}
    with pytest.raises(AutomationError) as refused:
        crud.create_automation(resident, top_up(resident, new_meter))
    assert refused.value.errors["schedule_kind"].startswith("This meter has no top-up with its units yet")

    make_payment(resident, new_meter, amount_kobo=50 * PRICE, created_at=START - timedelta(days=2), units="50.0")
    db.session.commit()
    with pytest.raises(AutomationError) as refused:
        crud.create_automation(resident, top_up(resident, new_meter))
    assert "Enter how many kWh a day it uses" in refused.value.errors["daily_units"]

    automation = crud.create_automation(resident, top_up(resident, new_meter, daily_units=Decimal(20)))
    crud.enable(resident, automation.id)
    # 50 kWh two days ago at the 20 kWh a day entered: runs out in half a day, so due now.
    assert START <= automation.next_run_at <= START + timedelta(minutes=2)
    with pytest.raises(AutomationError):
        crud.create_automation(resident, top_up(resident, meter, amount_mode="cover_days", amount_kobo=None,
                                                schedule=Schedule(kind="weekly", weekdays=(0,),
                                                                  starts_on=date(2027, 3, 1)), cover_days=7))


def test_the_form_sets_one_up_and_refuses_what_cannot_work(clock, resident, meter, auth, client):
    auth.login(resident.email)
    form = {"target": f"account:{meter.id}", "amount_mode": "cover_days", "cover_days": "10", "amount": "",
            "payment_source": "wallet", "priority": "normal", "schedule_kind": "run_out", "lead_hours": "48",
            "daily_units": "", "timezone": "Africa/Lagos"}
    page = client.get("/automations/new")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    refused = client.post("/automations/new", data={**form, "csrf_token": token, "cover_days": "900",
                                                    "daily_units": "-3"})
    text = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 422
    assert "Enter how many days each top-up should last, from 1 to 90." in text
    assert "Enter the meter's daily usage in kWh, like 8 or 12.5 (at most 500)." in text
    assert 'value="900"' in text and 'value="-3"' in text  # kept as typed

    saved = client.post("/automations/new", data={**form, "csrf_token": token})
    assert saved.status_code == 302
    automation = crud.list_automations(resident.id)[0]
    assert (automation.schedule_kind, automation.lead_hours, automation.amount_mode, automation.cover_days) == (
        "run_out", 48, "cover_days", 10)
    detail = html.unescape(client.get(saved.headers["Location"]).get_data(as_text=True))
    assert "Before the meter runs out (2 days ahead)" in detail and "Enough for 10 days" in detail
    assert 'id="meter-forecast"' in detail and "Wed 3 Mar" in detail
