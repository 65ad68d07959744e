"""Resident automation pages and the automations service behind them: create (off), validate
every field, turn on/off, pause/resume, skip next, delete, the schedule preview and settings."""
from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Automation, AutomationOccurrence, AutomationSettings, SavedCard
from webapp.models.catalogue import UTILITY_LABELS
from webapp.services.automations import crud, settings
from webapp.services.automations.inputs import AutomationInput, problems
from webapp.services.automations.schedules import Schedule
from webapp.services.automations.settings import SettingsInput

from .factories_payments import make_catalogue_entry, make_payment, make_utility_account
from .fixtures_automations import NOW  # the Friday ``frozen`` stops the clock on


@pytest.fixture
def tv_plan(estate):
    return make_catalogue_entry(estate, name="DStv Compact", provider_type="cable_tv", provider_code="dstv",
                                item_code="compact", meter_type=None, fixed_amount_kobo=15_700_00,
                                min_amount_kobo=0, max_amount_kobo=None)


@pytest.fixture
def meter(resident, prepaid):
    return make_utility_account(resident, prepaid, nickname="Home meter")


@pytest.fixture
def signed_in(auth, resident):
    auth.login(resident.email)
    return auth


def form_for(target: str, **changes) -> dict:
    """A valid form: ₦5,000 monthly on the 15th at 09:00 Lagos, from the wallet."""
    return {
        "target": target, "amount_mode": "fixed", "amount": "5000", "payment_source": "wallet", "priority": "normal",
        "schedule_kind": "monthly_day", "day_of_month": "15", "time_of_day": "09:00", "timezone": "Africa/Lagos",
        "starts_on": "2025-01-01", "catch_up": "latest", **changes,
    }


def automation_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Automation))


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# ``form_for``'s schedule, as the service takes it.
ON_THE_15TH = Schedule(kind="monthly_day", day_of_month=15, time_of_day=time(9, 0), timezone="Africa/Lagos",
                       starts_on=date(2025, 1, 1))


def monthly(**changes) -> Schedule:
    return replace(ON_THE_15TH, **changes)


def automation_input(account=None, bill_type: str | None = None, **changes) -> AutomationInput:
    """What ``form_for`` asks for, as typed values: ₦5,000 monthly on the 15th, from the wallet."""
    values = {"amount_kobo": 5_000_00, "schedule": ON_THE_15TH, **changes}
    return AutomationInput(target_kind="utility" if account else "estate_bill",
                           utility_account_id=account.id if account else None, bill_type=bill_type, **values)


def make_automation(user, account, **changes) -> Automation:
    return crud.create_automation(user, automation_input(account, **changes))


def created_from_the_page(auth, form: dict) -> Automation:
    response = auth.post("/automations/new", form)
    assert response.status_code == 302, page_text(response)
    return db.session.scalar(select(Automation).order_by(Automation.id.desc()))


# --- creating ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    {"schedule_kind": "monthly_day", "day_of_month": "31"},
    {"schedule_kind": "last_day"},
    {"schedule_kind": "nth_weekday", "nth": "2", "weekday": "1"},
    {"schedule_kind": "weekly", "weekdays": ["0", "4"]},
    {"schedule_kind": "interval", "interval_unit": "week", "interval_count": "2"},
], ids=lambda f: f["schedule_kind"])
def test_create_saves_each_schedule_kind(frozen, signed_in, meter, fields):
    saved = created_from_the_page(signed_in, form_for(f"account:{meter.id}", **fields))
    assert saved.schedule_kind == fields["schedule_kind"]
    assert saved.amount_kobo == 5_000_00 and saved.utility_account_id == meter.id
    assert crud.next_runs(saved)  # the saved schedule produces run dates


def test_weekly_days_are_stored_as_a_sorted_list(frozen, signed_in, meter):
    automation = created_from_the_page(signed_in, form_for(f"account:{meter.id}", schedule_kind="weekly",
                                                           weekdays=["4", "0", "4"]))
    assert automation.weekdays == "0,4"


def test_new_automation_is_created_switched_off(frozen, signed_in, client, resident, meter):
    response = signed_in.post("/automations/new", form_for(f"account:{meter.id}"))
    automation = db.session.scalar(select(Automation))
    assert response.status_code == 302 and response.location.endswith(f"/automations/{automation.id}")
    assert automation.enabled is False and automation.next_run_at is None
    assert "off until you turn it on" in page_text(client.get(response.location))


def test_time_zone_and_start_default_to_the_residents_zone_and_today(frozen, signed_in, meter):
    automation = created_from_the_page(signed_in, form_for(f"account:{meter.id}", timezone="", starts_on="",
                                                           time_of_day=""))
    assert automation.timezone == "Africa/Lagos"
    assert automation.starts_on == date(2025, 1, 10)
    assert automation.time_of_day == time(9, 0)


def test_missing_choices_take_their_defaults(frozen, signed_in, meter):
    automation = created_from_the_page(signed_in, {"target": f"account:{meter.id}", "amount": "5000",
                                                   "day_of_month": "15"})
    assert (automation.amount_mode, automation.payment_source, automation.priority, automation.catch_up,
            automation.schedule_kind) == ("fixed", "wallet", 2, "latest", "monthly_day")


def test_priority_words_become_numbers(frozen, signed_in, meter):
    assert created_from_the_page(signed_in, form_for(f"account:{meter.id}", priority="high")).priority == 3
    assert created_from_the_page(signed_in, form_for(f"account:{meter.id}", priority="low")).priority == 1


def test_estate_bill_automation_may_pay_the_full_outstanding(frozen, resident):
    automation = crud.create_automation(resident, automation_input(bill_type="service_charge",
                                                                   amount_mode="full_outstanding", amount_kobo=None))
    assert automation.target_kind == "estate_bill" and automation.bill_type == "service_charge"
    assert automation.amount_mode == "full_outstanding" and automation.amount_kobo is None


def test_the_amount_box_is_ignored_when_paying_the_full_outstanding(frozen, signed_in):
    automation = created_from_the_page(signed_in, form_for("bill:service_charge", amount_mode="full_outstanding",
                                                           amount="five thousand"))
    assert automation.amount_mode == "full_outstanding" and automation.amount_kobo is None


def test_postpaid_meter_may_pay_the_full_outstanding(frozen, resident, postpaid):
    account = make_utility_account(resident, postpaid, number="2222222222222")
    automation = make_automation(resident, account, amount_mode="full_outstanding", amount_kobo=None)
    assert automation.amount_mode == "full_outstanding"


def test_fixed_price_plan_takes_its_price_when_no_amount_is_typed(frozen, resident, tv_plan):
    card = make_utility_account(resident, tv_plan, number="7027914329")
    assert make_automation(resident, card, amount_kobo=None).amount_kobo == 15_700_00


def test_fixed_price_plan_takes_its_price_when_the_amount_box_is_left_empty(frozen, signed_in, resident, tv_plan):
    card = make_utility_account(resident, tv_plan, number="7027914329")
    assert created_from_the_page(signed_in, form_for(f"account:{card.id}", amount="")).amount_kobo == 15_700_00


def test_card_source_uses_the_residents_saved_card(frozen, resident, meter):
    card = SavedCard(user_id=resident.id, authorization_code="AUTH_test", last4="4081", brand="visa",
                     exp_month="12", exp_year="2030")
    db.session.add(card)
    db.session.commit()
    automation = make_automation(resident, meter, payment_source="card")
    assert automation.payment_source == "card" and automation.saved_card_id == card.id


def test_partial_payments_keep_their_minimum(frozen, signed_in, meter):
    automation = created_from_the_page(signed_in, form_for(f"account:{meter.id}", allow_partial="y",
                                                           partial_min="1,000", max_per_payment="8000"))
    assert automation.allow_partial is True
    assert automation.partial_min_kobo == 1_000_00 and automation.max_per_payment_kobo == 8_000_00


@pytest.mark.parametrize("changes", [
    {"schedule_kind": "weekly", "weekdays": ["1"], "day_of_month": "first", "nth": "9", "interval_count": "x"},
    {"allow_partial": "", "partial_min": "lots"},
    {"payment_source": "wallet", "saved_card_id": "not a card"},
], ids=["another kind's boxes", "part-payment minimum without part payments", "card without paying by card"])
def test_boxes_that_do_not_apply_are_ignored_whatever_they_hold(frozen, signed_in, meter, changes):
    automation = created_from_the_page(signed_in, form_for(f"account:{meter.id}", **changes))
    assert automation.partial_min_kobo == 0 and automation.saved_card_id is None


# --- bad input: a message next to the field, nothing saved ------------------------------------

BAD_INPUT = {
    "amount zero": ({"amount": "0"}, "Enter an amount greater than ₦0."),
    "amount negative": ({"amount": "-50"}, "Enter an amount greater than ₦0."),
    "amount letters": ({"amount": "five thousand"}, "Enter the amount in numbers only"),
    "amount empty": ({"amount": ""}, "Enter an amount in naira"),
    "amount below the minimum": ({"amount": "100"}, "The minimum for Ikeja Electric Prepaid is ₦500.00."),
    "amount above the maximum": ({"amount": "600000"}, "The maximum for Ikeja Electric Prepaid is ₦500,000.00."),
    "unknown account": ({"target": "account:999999"}, "Choose one of your accounts or an estate bill."),
    "unknown bill type": ({"target": "bill:parking"}, "Choose one of your accounts or an estate bill."),
    "no target": ({"target": ""}, "Choose one of your accounts or an estate bill."),
    "card without a saved card": ({"payment_source": "card"}, "You have no saved card yet."),
    "full outstanding on a prepaid meter": ({"amount_mode": "full_outstanding"}, "works only for postpaid meters"),
    "day 32": ({"day_of_month": "32"}, "Choose a day of the month from 1 to 31."),
    "day letters": ({"day_of_month": "first"}, "Choose a day of the month from 1 to 31."),
    "end before start": ({"ends_on": "2024-12-31"}, "The end date must be on or after the start date."),
    "no runs left": ({"ends_on": "2025-01-05"}, "This schedule has no run dates left."),
    "end date and count": ({"ends_on": "2025-12-31", "max_occurrences": "3"}, "not both"),
    "count zero": ({"max_occurrences": "0"}, "Enter a number of payments from 1 to 1000"),
    "bad date": ({"starts_on": "31/01/2025"}, "Enter a date like 2025-01-31."),
    "start decades ago": ({"starts_on": "1900-01-01"}, "Choose a start date within two years of today."),
    "bad time": ({"time_of_day": "25:00"}, "Enter a time like 09:00."),
    "unknown zone": ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'."),
    "unknown kind": ({"schedule_kind": "hourly"}, "Choose how often this should run."),
    "interval zero": ({"schedule_kind": "interval", "interval_unit": "day", "interval_count": "0"},
                      "Repeat every 1 to 366 days, weeks or months."),
    "weekly without days": ({"schedule_kind": "weekly"}, "Choose at least one day of the week."),
    "fifth weekday": ({"schedule_kind": "nth_weekday", "nth": "5", "weekday": "1"},
                      "Choose first, second, third, fourth or last."),
    "unknown priority": ({"priority": "urgent"}, "Choose high, normal or low priority."),
    "limit below the amount": ({"max_per_payment": "1000"}, "This limit is below the amount"),
    "partial minimum above the amount": ({"allow_partial": "y", "partial_min": "6000"},
                                         "The smallest partial payment must not be more than the amount"),
}


@pytest.mark.parametrize("changes,message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_shows_a_message_and_creates_nothing(frozen, signed_in, resident, meter, changes, message):
    response = signed_in.post("/automations/new", {**form_for(f"account:{meter.id}"), **changes})
    assert response.status_code == 422
    assert message in page_text(response)
    assert automation_count() == 0


def test_another_residents_account_is_refused_like_an_unknown_one(frozen, signed_in, other_resident, prepaid):
    theirs = make_utility_account(other_resident, prepaid, number="3333333333333")
    response = signed_in.post("/automations/new", form_for(f"account:{theirs.id}"))
    assert response.status_code == 422
    assert "Choose one of your accounts or an estate bill." in page_text(response)
    assert automation_count() == 0


def test_a_plan_with_a_fixed_price_refuses_another_amount(frozen, resident, tv_plan):
    card = make_utility_account(resident, tv_plan, number="7027914329")
    with pytest.raises(crud.AutomationError) as caught:
        make_automation(resident, card, amount_kobo=10_000_00)
    assert caught.value.errors["amount"] == "DStv Compact costs exactly ₦15,700.00."
    assert automation_count() == 0


def test_an_empty_amount_is_shown_with_the_other_problems_at_once(frozen, signed_in, meter):
    response = signed_in.post("/automations/new", form_for(f"account:{meter.id}", amount="", day_of_month=""))
    text = page_text(response)
    assert response.status_code == 422 and "Please check the 2 highlighted fields." in text
    assert 'id="amount-error"' in text and 'id="day_of_month-error"' in text


def test_a_refusal_of_the_service_shows_next_to_its_field_with_what_was_typed(frozen, signed_in, meter):
    response = signed_in.post("/automations/new", form_for(f"account:{meter.id}", amount="100"))
    text = page_text(response)
    assert response.status_code == 422
    assert re.search(r'id="amount"[^>]*aria-invalid="true"', text) and 'id="amount-error"' in text
    assert 'value="100"' in text and "Please check the 1 highlighted field." in text


def test_errors_are_shown_next_to_their_fields(frozen, signed_in, meter):
    response = signed_in.post("/automations/new", form_for(f"account:{meter.id}", amount="abc", day_of_month="40"))
    text = page_text(response)
    assert re.search(r'id="amount"[^>]*aria-invalid="true"', text)
    assert 'id="amount-error"' in text and 'id="day_of_month-error"' in text
    assert 'value="abc"' in text  # what was typed stays in the box


def error_of(text: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', text)
    return found and found.group(1)


def test_the_forms_problems_and_the_services_show_together(frozen, signed_in, meter):
    response = signed_in.post("/automations/new", form_for(f"account:{meter.id}", amount="100", day_of_month="40"))
    text = page_text(response)
    assert response.status_code == 422 and "Please check the 2 highlighted fields." in text
    assert error_of(text, "day_of_month") == "Choose a day of the month from 1 to 31."
    assert error_of(text, "amount") == "The minimum for Ikeja Electric Prepaid is ₦500.00."
    assert 'value="100"' in text and 'value="40"' in text
    assert automation_count() == 0


@pytest.mark.parametrize("changes,field,message", [
    ({"ends_on": "2025-01-05"}, "ends_on", "This schedule has no run dates left."),
    ({"payment_source": "card"}, "payment_source", "You have no saved card yet."),
    ({"amount_mode": "full_outstanding"}, "amount_mode", "works only for postpaid meters"),
    ({"max_per_payment": "1000"}, "max_per_payment", "This limit is below the amount"),
], ids=["no runs left", "no saved card", "full outstanding of a prepaid meter", "limit below the amount"])
def test_a_service_refusal_shows_beside_a_box_the_form_refused(frozen, signed_in, meter, changes, field, message):
    response = signed_in.post("/automations/new", form_for(f"account:{meter.id}", priority="urgent", **changes))
    text = page_text(response)
    assert response.status_code == 422 and "Please check the 2 highlighted fields." in text
    assert error_of(text, "priority") == "Choose high, normal or low priority."
    assert message in error_of(text, field)
    assert automation_count() == 0


@pytest.mark.parametrize("changes,field,message", [
    ({"amount": "abc", "max_per_payment": "1000"}, "amount", "Enter the amount in numbers only"),
    ({"target": "account:x", "amount": "100"}, "target", "Choose one of your accounts or an estate bill."),
    ({"amount_mode": "hourly", "amount": "100"}, "amount_mode",
     "Choose a fixed amount, the full outstanding or enough for some days."),
    ({"day_of_month": "40", "ends_on": "2025-01-05"}, "day_of_month", "Choose a day of the month from 1 to 31."),
    ({"payment_source": "card", "saved_card_id": "²"}, "saved_card_id", "Choose one of your saved cards."),
], ids=["limit without an amount", "minimum without an account", "minimum without a mode",
        "runs left without a schedule", "card without its id"])
def test_a_rule_whose_box_did_not_parse_is_skipped(frozen, signed_in, resident, meter, changes, field, message):
    for last4 in ("4081", "1111"):  # two cards, so none is chosen for the resident
        db.session.add(SavedCard(user_id=resident.id, authorization_code=f"AUTH_{last4}", last4=last4,
                                 brand="visa", exp_month="12", exp_year="2030"))
    db.session.commit()
    response = signed_in.post("/automations/new", {**form_for(f"account:{meter.id}"), **changes})
    text = page_text(response)
    assert response.status_code == 422 and "Please check the 1 highlighted field." in text
    assert message in error_of(text, field)
    assert automation_count() == 0


def test_a_bad_edit_shows_every_problem_and_changes_nothing(frozen, signed_in, resident, meter):
    automation = make_automation(resident, meter)
    response = signed_in.post(f"/automations/{automation.id}/edit",
                              form_for(f"account:{meter.id}", amount="600000", starts_on="someday"))
    text = page_text(response)
    assert response.status_code == 422
    assert error_of(text, "amount") == "The maximum for Ikeja Electric Prepaid is ₦500,000.00."
    assert error_of(text, "starts_on") == "Enter a date like 2025-01-31."
    db.session.expire_all()
    assert db.session.get(Automation, automation.id).amount_kobo == 5_000_00


def test_the_service_checks_a_partial_draft_as_far_as_it_was_read(frozen, resident, meter):
    draft = automation_input(meter, amount_kobo=100_00, schedule=None, unread=frozenset({"day_of_month"}))
    assert problems(resident, draft) == {"amount": "The minimum for Ikeja Electric Prepaid is ₦500.00."}
    with pytest.raises(ValueError, match="partial draft"):
        crud.create_automation(resident, draft)
    assert automation_count() == 0


# --- switching on and off ---------------------------------------------------------------------

def test_turning_on_schedules_the_next_run_after_now_not_a_past_one(frozen, signed_in, resident, meter):
    # Started in November on the 5th: Nov 5, Dec 5 and Jan 5 are in the past and are not paid.
    automation = make_automation(resident, meter, schedule=monthly(starts_on=date(2024, 11, 1), day_of_month=5))
    response = signed_in.post(f"/automations/{automation.id}/enable", page="/automations/")
    assert response.status_code == 302
    db.session.refresh(automation)
    assert automation.enabled is True
    assert automation.next_run_at == datetime(2025, 2, 5, 8, 0, tzinfo=UTC)  # 09:00 in Lagos


def test_turning_on_today_at_a_later_time_runs_today(frozen, resident, meter):
    automation = make_automation(resident, meter, schedule=monthly(day_of_month=10, time_of_day=time(18, 30)))
    crud.enable(resident, automation.id)
    assert automation.next_run_at == datetime(2025, 1, 10, 17, 30, tzinfo=UTC)


def test_turning_off_clears_the_next_run(frozen, signed_in, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    signed_in.post(f"/automations/{automation.id}/disable", page="/automations/")
    db.session.refresh(automation)
    assert automation.enabled is False and automation.next_run_at is None


def test_htmx_action_returns_only_the_updated_card(frozen, signed_in, client, resident, meter):
    automation = make_automation(resident, meter)
    response = signed_in.post(f"/automations/{automation.id}/enable", page="/automations/",
                              headers={"HX-Request": "true"})
    text = page_text(response)
    assert response.status_code == 200 and "<html" not in text
    assert f'id="automation-{automation.id}"' in text and "Turned on. The first payment is on 15 Jan 2025" in text


def test_pause_and_resume_from_the_list(frozen, signed_in, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    signed_in.post(f"/automations/{automation.id}/pause", page="/automations/")
    db.session.refresh(automation)
    assert crud.state_of(automation) == crud.PAUSED and automation.pause_reason == "Paused by you"
    signed_in.post(f"/automations/{automation.id}/resume", page="/automations/")
    db.session.refresh(automation)
    assert crud.state_of(automation) == crud.ON and automation.pause_reason is None


def test_resume_continues_after_now_so_the_paused_runs_are_not_paid(frozen, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    crud.pause(resident, automation.id)
    automation.consecutive_failures = 2
    db.session.commit()
    frozen.move_to(datetime(2025, 3, 20, 8, 0, tzinfo=UTC))  # Jan 15, Feb 15 and Mar 15 fell in the pause
    crud.resume(resident, automation.id)
    assert automation.next_run_at == datetime(2025, 4, 15, 8, 0, tzinfo=UTC)
    assert automation.consecutive_failures == 0  # one more failure does not pause it again at once


def test_pausing_an_automation_that_is_off_says_why(frozen, signed_in, client, resident, meter):
    automation = make_automation(resident, meter)
    response = signed_in.post(f"/automations/{automation.id}/pause", page="/automations/", follow_redirects=True)
    assert "This automation is off; there is nothing to pause." in page_text(response)
    db.session.refresh(automation)
    assert automation.paused_at is None


def test_skip_next_marks_the_next_run_and_names_its_date(frozen, signed_in, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    response = signed_in.post(f"/automations/{automation.id}/skip-next", page="/automations/",
                              follow_redirects=True)
    db.session.refresh(automation)
    assert automation.skip_next is True
    assert automation.next_run_at == datetime(2025, 1, 15, 8, 0, tzinfo=UTC)  # unchanged: the sweep skips it
    text = page_text(response)
    assert "The payment on 15 Jan 2025, 09:00 will be skipped." in text
    assert "will be skipped" in text and "Don't skip (15 Jan)" in text


def test_undo_skip(frozen, signed_in, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    crud.skip_next(resident, automation.id)
    signed_in.post(f"/automations/{automation.id}/unskip", page="/automations/")
    db.session.refresh(automation)
    assert automation.skip_next is False


def test_skip_next_needs_an_automation_that_is_on(frozen, resident, meter):
    automation = make_automation(resident, meter)
    with pytest.raises(crud.AutomationError):
        crud.skip_next(resident, automation.id)
    assert automation.skip_next is False


def test_delete_asks_first_then_keeps_the_history(frozen, signed_in, client, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    confirm = client.get(f"/automations/{automation.id}/delete")
    assert "Delete the automation for Home meter" in page_text(confirm)
    assert db.session.get(Automation, automation.id).deleted_at is None  # GET changes nothing

    signed_in.post(f"/automations/{automation.id}/delete")
    db.session.expire_all()
    row = db.session.get(Automation, automation.id)
    assert row is not None and row.deleted_at is not None
    assert row.enabled is False and row.next_run_at is None
    assert client.get(f"/automations/{automation.id}").status_code == 404
    assert "Home meter" not in page_text(client.get("/automations/"))


# --- scoping and guards -----------------------------------------------------------------------

ROUTES = [("GET", "/automations/{id}"), ("GET", "/automations/{id}/edit"), ("POST", "/automations/{id}/edit"),
          ("POST", "/automations/{id}/enable"), ("POST", "/automations/{id}/disable"),
          ("POST", "/automations/{id}/pause"), ("POST", "/automations/{id}/resume"),
          ("POST", "/automations/{id}/skip-next"), ("POST", "/automations/{id}/unskip"),
          ("GET", "/automations/{id}/delete"), ("POST", "/automations/{id}/delete")]


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_another_residents_automation_is_a_404(frozen, signed_in, client, other_resident, prepaid, method, path):
    account = make_utility_account(other_resident, prepaid, number="3333333333333")
    theirs = make_automation(other_resident, account)
    crud.enable(other_resident, theirs.id)
    url = path.format(id=theirs.id)
    if method == "GET":
        response = client.get(url)
    else:
        response = signed_in.post(url, form_for(f"account:{account.id}", amount="9000"), page="/automations/")
    assert response.status_code == 404
    db.session.expire_all()
    untouched = db.session.get(Automation, theirs.id)
    assert untouched.enabled is True and untouched.deleted_at is None and untouched.amount_kobo == 5_000_00


def test_preview_for_another_residents_automation_is_a_404(frozen, signed_in, other_resident, prepaid):
    account = make_utility_account(other_resident, prepaid, number="3333333333333")
    theirs = make_automation(other_resident, account)
    response = signed_in.post("/automations/preview", form_for("", automation_id=str(theirs.id)),
                              page="/automations/")
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/automations/", "/automations/new", "/automations/settings",
                                  "/automations/upcoming", "/automations/activity"])
def test_anonymous_visitors_sign_in_first(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.location


@pytest.mark.parametrize("path", ["/automations/", "/automations/settings", "/automations/upcoming",
                                  "/automations/activity"])
def test_admins_get_a_404(auth, client, estate_admin, path):
    auth.login(estate_admin.email)
    assert client.get(path).status_code == 404


def test_resident_nav_links_to_automations_and_upcoming(signed_in, client):
    text = page_text(client.get("/"))
    assert 'href="/automations/"' in text and 'href="/automations/upcoming"' in text


# --- pages --------------------------------------------------------------------------------------

def test_list_shows_target_amount_schedule_next_run_and_state(frozen, signed_in, client, resident, meter):
    on = make_automation(resident, meter, schedule=monthly(day_of_month=31))
    crud.enable(resident, on.id)
    crud.create_automation(resident, automation_input(bill_type="security", amount_kobo=2_500_00))
    text = page_text(client.get("/automations/"))
    assert "Home meter (Ikeja Electric Prepaid)" in text and "Security bill" in text
    assert "₦5,000.00" in text and "₦2,500.00" in text
    assert "Monthly on day 31 at 09:00 (Africa/Lagos)" in text
    assert "31 Jan 2025, 09:00" in text  # next run, in Lagos time
    assert ">On</span>" in text and ">Off</span>" in text


def test_paused_badge_shows_the_reason(frozen, signed_in, client, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    automation.paused_at, automation.pause_reason = NOW, "Paused after 3 failed payments in a row."
    db.session.commit()
    text = page_text(client.get("/automations/"))
    assert ">Paused</span>" in text and "Paused after 3 failed payments in a row." in text


def test_detail_lists_recent_runs_with_a_link_to_the_payment(frozen, signed_in, client, resident, meter):
    automation = make_automation(resident, meter)
    payment = make_payment(resident, meter, amount_kobo=5_000_00)
    db.session.add_all([
        AutomationOccurrence(automation_id=automation.id, user_id=resident.id, status="paid",
                             scheduled_for=datetime(2024, 12, 15, 8, 0, tzinfo=UTC), payment_id=payment.id,
                             amount_kobo=5_000_00),
        AutomationOccurrence(automation_id=automation.id, user_id=resident.id, status="missed",
                             scheduled_for=datetime(2024, 11, 15, 8, 0, tzinfo=UTC),
                             reason="Not enough money in your wallet before the grace period ended"),
    ])
    db.session.commit()
    text = page_text(client.get(f"/automations/{automation.id}"))
    assert f'href="/payments/{payment.id}"' in text
    assert "Not enough money in your wallet before the grace period ended" in text
    assert text.index("15 Dec 2024") < text.index("15 Nov 2024")  # newest first


def test_edit_form_is_prefilled_and_saves_changes(frozen, signed_in, client, resident, meter):
    automation = make_automation(resident, meter, max_per_payment_kobo=7_500_50)
    text = page_text(client.get(f"/automations/{automation.id}/edit"))
    assert 'value="5000"' in text and 'value="7500.50"' in text and 'value="2025-01-01"' in text
    response = signed_in.post(f"/automations/{automation.id}/edit",
                              form_for(f"account:{meter.id}", amount="6000", max_per_payment="7500.50"))
    assert response.status_code == 302
    db.session.refresh(automation)
    assert automation.amount_kobo == 6_000_00


def test_bad_edit_changes_nothing(frozen, signed_in, resident, meter):
    automation = make_automation(resident, meter)
    response = signed_in.post(f"/automations/{automation.id}/edit",
                              form_for(f"account:{meter.id}", amount="7000", day_of_month="32"))
    assert response.status_code == 422
    db.session.expire_all()
    unchanged = db.session.get(Automation, automation.id)
    assert unchanged.amount_kobo == 5_000_00 and unchanged.day_of_month == 15


def test_editing_a_running_schedule_reschedules_from_now(frozen, resident, meter):
    automation = make_automation(resident, meter)
    crud.enable(resident, automation.id)
    crud.update_automation(resident, automation.id, automation_input(meter, schedule=monthly(day_of_month=20)))
    assert automation.next_run_at == datetime(2025, 1, 20, 8, 0, tzinfo=UTC)


# --- the schedule preview ------------------------------------------------------------------------

def test_htmx_preview_shows_the_next_five_dates_clamped_to_short_months(frozen, signed_in, meter):
    response = signed_in.post("/automations/preview", form_for(f"account:{meter.id}", day_of_month="31"),
                              page="/automations/new", headers={"HX-Request": "true"})
    text = page_text(response)
    assert response.status_code == 200 and "<html" not in text
    dates = re.findall(r"<li>([^<]+)</li>", text)
    assert dates == ["Fri 31 Jan 2025, 09:00", "Fri 28 Feb 2025, 09:00", "Mon 31 Mar 2025, 09:00",
                     "Wed 30 Apr 2025, 09:00", "Sat 31 May 2025, 09:00"]


def test_preview_times_are_in_the_residents_zone(frozen, signed_in, meter):
    # 09:00 in London is 10:00 in Lagos in winter.
    response = signed_in.post("/automations/preview",
                              form_for(f"account:{meter.id}", day_of_month="31", timezone="Europe/London"),
                              page="/automations/new", headers={"HX-Request": "true"})
    assert "Fri 31 Jan 2025, 10:00" in page_text(response)


def test_htmx_preview_shows_the_schedule_error(frozen, signed_in, meter):
    response = signed_in.post("/automations/preview", form_for(f"account:{meter.id}", day_of_month="32"),
                              page="/automations/new", headers={"HX-Request": "true"})
    text = page_text(response)
    assert response.status_code == 200
    assert "Choose a day of the month from 1 to 31." in text and "<li>" not in text


def test_preview_without_javascript_returns_the_form_with_the_dates(frozen, signed_in, meter):
    response = signed_in.post("/automations/preview", form_for(f"account:{meter.id}", schedule_kind="last_day"),
                              page="/automations/new")
    text = page_text(response)
    assert "<html" in text and 'name="target"' in text
    assert "Fri 31 Jan 2025, 09:00" in text and "Fri 28 Feb 2025, 09:00" in text
    assert automation_count() == 0


def test_a_preview_without_javascript_shows_the_problem_in_the_box_only(frozen, signed_in, meter):
    response = signed_in.post("/automations/preview", form_for(f"account:{meter.id}", day_of_month="32"),
                              page="/automations/new")
    text = page_text(response)
    assert response.status_code == 200 and 'id="preview-problem"' in text
    assert "Choose a day of the month from 1 to 31." in text and 'value="32"' in text
    assert 'id="day_of_month-error"' not in text and "Nothing was saved" not in text  # a preview is not a save


def test_changing_the_kind_swaps_in_that_kinds_fields(frozen, signed_in, meter):
    response = signed_in.post("/automations/preview?part=schedule",
                              form_for(f"account:{meter.id}", schedule_kind="weekly", weekdays=["2"]),
                              page="/automations/new", headers={"HX-Request": "true"})
    text = page_text(response)
    assert 'id="schedule-section"' in text and 'name="weekdays"' in text and 'name="day_of_month"' not in text
    assert "Wed 15 Jan 2025, 09:00" in text


def test_new_form_shows_a_preview_straight_away(frozen, signed_in, client, meter):
    text = page_text(client.get("/automations/new"))
    assert 'id="schedule-preview"' in text
    # Monthly on today's day (the 10th) at 09:00, which in Lagos is exactly now.
    assert re.findall(r"<li>([^<]+)</li>", text)[:2] == ["Fri 10 Jan 2025, 09:00", "Mon 10 Feb 2025, 09:00"]


# --- settings -------------------------------------------------------------------------------------

SETTINGS_FORM = {"min_balance": "2,000", "monthly_cap": "50000", "electricity_cap": "20000", "water_cap": "",
                 "internet_cap": "", "cable_tv_cap": "15700", "estate_bills_cap": "", "reminder_lead_hours": "48",
                 "grace_hours": "24", "pause_after_failures": "5"}


def test_settings_round_trip(signed_in, client, resident):
    response = signed_in.post("/automations/settings", SETTINGS_FORM)
    assert response.status_code == 302
    saved = db.session.scalar(select(AutomationSettings).where(AutomationSettings.user_id == resident.id))
    assert saved.min_balance_kobo == 2_000_00 and saved.monthly_cap_kobo == 50_000_00
    assert saved.electricity_cap_kobo == 20_000_00 and saved.cable_tv_cap_kobo == 15_700_00
    assert saved.water_cap_kobo is None and saved.estate_bills_cap_kobo is None
    assert (saved.reminder_lead_hours, saved.grace_hours, saved.pause_after_failures) == (48, 24, 5)
    text = page_text(client.get("/automations/settings"))
    assert 'value="2000"' in text and 'value="15700"' in text and 'value="48"' in text


SETTINGS = SettingsInput(min_balance_kobo=2_000_00, monthly_cap_kobo=50_000_00, electricity_cap_kobo=20_000_00,
                         cable_tv_cap_kobo=15_700_00, reminder_lead_hours=48, grace_hours=24, pause_after_failures=5)


def test_the_utility_caps_are_labelled_as_everywhere_else(signed_in, client):
    text = page_text(client.get("/automations/settings"))
    for utility_type, label in UTILITY_LABELS.items():
        assert f'<label for="{utility_type}_cap">{label}</label>' in text


def test_second_save_updates_the_same_row(signed_in, resident):
    assert signed_in.post("/automations/settings", SETTINGS_FORM).status_code == 302
    response = signed_in.post("/automations/settings", {**SETTINGS_FORM, "monthly_cap": "", "min_balance": "0"})
    assert response.status_code == 302
    rows = db.session.scalars(select(AutomationSettings)).all()
    assert len(rows) == 1 and rows[0].monthly_cap_kobo is None and rows[0].min_balance_kobo == 0


def test_the_service_saves_typed_settings_on_one_row(resident):
    settings.save_settings(resident, SETTINGS)
    settings.save_settings(resident, replace(SETTINGS, monthly_cap_kobo=None, min_balance_kobo=0))
    rows = db.session.scalars(select(AutomationSettings)).all()
    assert len(rows) == 1 and rows[0].monthly_cap_kobo is None and rows[0].min_balance_kobo == 0
    assert rows[0].cable_tv_cap_kobo == 15_700_00 and rows[0].pause_after_failures == 5


def test_settings_page_shows_defaults_before_the_first_save(signed_in, client, resident):
    text = page_text(client.get("/automations/settings"))
    assert 'value="24"' in text and 'value="72"' in text and 'value="3"' in text
    assert db.session.scalar(select(func.count()).select_from(AutomationSettings)) == 0  # GET writes nothing


BAD_SETTINGS = {
    "min balance letters": ({"min_balance": "lots"}, "min_balance", "Enter the amount in numbers only"),
    "cap zero": ({"monthly_cap": "0"}, "monthly_cap", "Enter an amount greater than ₦0."),
    "cap negative": ({"water_cap": "-10"}, "water_cap", "Enter an amount greater than ₦0."),
    "cap three decimals": ({"internet_cap": "10.505"}, "internet_cap", "at most two digits"),
    "reminder too long": ({"reminder_lead_hours": "169"}, "reminder_lead_hours", "from 0 to 168"),
    "grace zero": ({"grace_hours": "0"}, "grace_hours", "from 1 to 168"),
    "grace letters": ({"grace_hours": "a day"}, "grace_hours", "from 1 to 168"),
    "pause after zero": ({"pause_after_failures": "0"}, "pause_after_failures", "from 1 to 10"),
    "pause after eleven": ({"pause_after_failures": "11"}, "pause_after_failures", "from 1 to 10"),
}


@pytest.mark.parametrize("changes,field,message", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_bad_settings_show_a_message_and_save_nothing(signed_in, resident, changes, field, message):
    response = signed_in.post("/automations/settings", {**SETTINGS_FORM, **changes})
    text = page_text(response)
    assert response.status_code == 422
    assert message in text and f'id="{field}-error"' in text
    assert db.session.scalar(select(func.count()).select_from(AutomationSettings)) == 0


def test_bad_settings_keep_the_saved_ones(signed_in, resident):
    settings.save_settings(resident, SETTINGS)
    response = signed_in.post("/automations/settings", {**SETTINGS_FORM, "min_balance": "9000", "grace_hours": "0"})
    assert response.status_code == 422
    text = page_text(response)
    assert 'value="9000"' in text and 'id="grace_hours-error"' in text  # what was typed stays, with the error
    db.session.expire_all()
    assert settings.get_settings(resident.id).min_balance_kobo == 2_000_00


def test_other_residents_settings_are_their_own(resident, other_resident):
    settings.save_settings(resident, SETTINGS)
    assert settings.get_settings(other_resident.id).min_balance_kobo == 0



def test_kobo_for_a_whole_naira_provider_is_refused_on_the_automation_form(frozen, signed_in, resident, estate):
    entry = make_catalogue_entry(estate, api_provider="flutterwave", provider_code="BIL112", item_code="UB157")
    account = make_utility_account(resident, entry, nickname="Flat meter")
    response = signed_in.post("/automations/new", form_for(f"account:{account.id}", amount="5000.50"))
    assert response.status_code == 422
    assert "paid in whole naira only" in page_text(response)
    assert automation_count() == 0
