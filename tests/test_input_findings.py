"""One test per finding of the input-hardening review: numbers typed or put in a URL that used to be
a 500 (``"²".isdigit()`` then ``int()``, a 20-digit amount overflowing the database), a submit key
reused across residents, and webhooks arriving while a gateway secret is not configured.

Each answer is now a clear 4xx (or the page without the bad filter), nothing is created, and a
form keeps what was typed.
"""
from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from webapp.automations.forms import SETTINGS_NUMBERS
from webapp.extensions import db
from webapp.models import Automation, AutomationSettings, Bill, FundingIntent, Payment, UtilityProvider
from webapp.models.base import utcnow

from .factories_automations import make_automation, make_estate_bill
from .factories_payments import make_catalogue_entry, make_payment, make_utility_account
from .fixtures_funding import flutterwave_webhook, paystack_webhook
from .payments.helpers import fund

# Each test tries them all in turn (a test's setup is what costs time here).
NOT_A_NUMBER = ["²", "٣", "9" * 5000, "99999999999999999999", "-7", "1e309"]
TOO_MUCH = "99999999999999999999"
LIMIT_MESSAGE = "Enter an amount up to ₦100,000,000.00."
FIRST_RUN = datetime(2031, 1, 15, 8, 0, tzinfo=UTC)


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def entry(estate):
    return make_catalogue_entry(estate)


@pytest.fixture
def meter(resident, entry):
    return make_utility_account(resident, entry, "45012345678", nickname="Flat 3 meter")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def input_value(response, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', response.get_data(as_text=True))
    value = re.search(r'value="([^"]*)"', match.group(0)) if match else None
    return value.group(1) if value else (None if match is None else "")


def form_poster(as_user, path: str, page: str | None = None):
    """A function that POSTs a form to ``path`` as ``as_user``, every time with the one CSRF token
    taken from ``page`` (default: ``path``) now: one page load for all the bad values a test tries."""
    token = as_user.csrf(page or path)
    return lambda data: as_user.client.post(path, data={**data, "csrf_token": token})


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def plain_get_rules(app, prefix: str) -> list[str]:
    """Every GET page under ``prefix`` that takes no URL argument (generated, so new pages count)."""
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.rule.startswith(prefix) and "GET" in rule.methods and not rule.arguments
                  and not rule.rule.startswith("/admin/rq"))


# --- utility_accounts/forms.py: the provider choice ----------------------------------------------

def test_a_provider_id_that_is_not_a_number_shows_the_link_page(as_resident, entry):
    for bad in NOT_A_NUMBER:
        response = as_resident.client.get(f"/accounts/new?provider_id={quote(bad)}")
        assert response.status_code == 200, bad
        assert "Link" in text(response)


def test_checking_a_number_for_a_provider_id_that_is_not_a_number_is_refused(as_resident, entry):
    validate = form_poster(as_resident, "/accounts/new/validate", page="/accounts/new")
    for bad in NOT_A_NUMBER:
        response = validate({"provider_id": bad, "customer_number": "45012345678"})
        assert response.status_code == 422, bad


# --- pay/routes.py: the amount in "pay again" links and the confirm form --------------------------

def test_a_pay_again_link_fills_in_the_amount(as_resident, meter):
    response = as_resident.client.get(f"/pay/?account={meter.id}&amount=500000")
    assert input_value(response, "amount") == "5000"


def test_a_pay_link_with_an_amount_that_is_not_a_number_opens_an_empty_form(as_resident, meter):
    for bad in [*NOT_A_NUMBER, str(100_000_000_01)]:
        response = as_resident.client.get(f"/pay/?account={quote(bad)}&amount={quote(bad)}")
        assert response.status_code == 200, bad
        assert input_value(response, "amount") == ""


@pytest.mark.parametrize("field", ["account", "amount_kobo"])
def test_a_confirm_form_with_a_number_that_is_not_one_creates_nothing(as_resident, resident, meter, field):
    fund(resident, 20_000_00)
    confirm = form_poster(as_resident, "/pay/confirm", page="/pay/")
    for n, bad in enumerate([*NOT_A_NUMBER, str(100_000_000_01)]):
        response = confirm({"account": str(meter.id), "amount_kobo": "500000", "submit_key": f"key-{n}", field: bad})
        assert response.status_code == 302 and response.headers["Location"].startswith("/pay/"), bad
    assert count(Payment) == 0


# --- automations/forms.py and automations/routes.py ---------------------------------------------

def automation_form(target: str, **changes) -> dict:
    return {"target": target, "amount_mode": "fixed", "amount": "5000", "payment_source": "wallet",
            "priority": "normal", "schedule_kind": "monthly_day", "day_of_month": "15", "time_of_day": "09:00",
            "timezone": "Africa/Lagos", "starts_on": date.today().isoformat(), "catch_up": "latest", **changes}


@pytest.mark.parametrize("changes, field_message", [
    ({"day_of_month": "{bad}"}, "Choose a day of the month from 1 to 31."),
    ({"schedule_kind": "interval", "interval_unit": "day", "interval_count": "{bad}"}, "Repeat every 1 to 366"),
    ({"schedule_kind": "nth_weekday", "nth": "{bad}", "weekday": "1"}, "Choose first, second, third"),
    ({"schedule_kind": "weekly", "weekdays": ["1", "{bad}"]}, "Choose at least one day of the week."),
    ({"max_occurrences": "{bad}"}, "Enter a number of payments from 1 to 1000"),
    ({"target": "account:{bad}"}, "Choose one of your accounts or an estate bill."),
], ids=["day_of_month", "interval_count", "nth", "weekdays", "max_occurrences", "target"])
def test_an_automation_number_that_is_not_one_is_refused_with_its_message(as_resident, meter, changes,
                                                                          field_message):
    create = form_poster(as_resident, "/automations/new")
    for bad in NOT_A_NUMBER:
        filled = {k: ([v.format(bad=bad) for v in value] if isinstance(value, list) else value.format(bad=bad))
                  for k, value in changes.items()}
        response = create({**automation_form(f"account:{meter.id}"), **filled})
        assert response.status_code == 422, bad
        assert field_message in text(response)
    assert count(Automation) == 0


def test_the_schedule_preview_with_an_automation_id_that_is_not_one_still_previews(as_resident, meter):
    preview = form_poster(as_resident, "/automations/preview", page="/automations/new")
    for bad in NOT_A_NUMBER:
        response = preview({**automation_form(f"account:{meter.id}"), "automation_id": bad})
        assert response.status_code == 200, bad


def test_the_schedule_preview_of_another_residents_automation_is_404(as_resident, other_resident, entry):
    theirs = make_automation(other_resident, make_utility_account(other_resident, entry, "45099999999"),
                             first_run=FIRST_RUN)
    response = as_resident.post("/automations/preview", {"automation_id": str(theirs.id)}, page="/automations/new")
    assert response.status_code == 404


@pytest.mark.parametrize("field", ["amount", "max_per_payment"])
def test_an_automation_amount_above_the_limit_is_422_with_the_form_kept(as_resident, field):
    bill_target = automation_form("bill:service_charge", **{field: TOO_MUCH})
    response = as_resident.post("/automations/new", bill_target)
    assert response.status_code == 422
    assert LIMIT_MESSAGE in text(response)
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    assert count(Automation) == 0


# --- automations/forms.py: settings ---------------------------------------------------------------

SETTINGS = {"min_balance": "", "monthly_cap": "", "electricity_cap": "", "water_cap": "", "internet_cap": "",
            "cable_tv_cap": "", "estate_bills_cap": "", "reminder_lead_hours": "24", "grace_hours": "24",
            "pause_after_failures": "3"}


@pytest.mark.parametrize("field", ["reminder_lead_hours", "grace_hours", "pause_after_failures"])
def test_a_settings_hour_or_count_that_is_not_a_number_is_refused(as_resident, field):
    save = form_poster(as_resident, "/automations/settings")
    for bad in NOT_A_NUMBER:
        response = save({**SETTINGS, field: bad})
        assert response.status_code == 422, bad
        assert SETTINGS_NUMBERS[field][2] in text(response)
    assert count(AutomationSettings) == 0


@pytest.mark.parametrize("field", ["min_balance", "monthly_cap", "electricity_cap", "water_cap", "internet_cap",
                                   "cable_tv_cap", "estate_bills_cap"])
def test_a_settings_amount_above_the_limit_is_422_with_the_form_kept(as_resident, field):
    response = as_resident.post("/automations/settings", {**SETTINGS, field: TOO_MUCH})
    assert response.status_code == 422
    assert LIMIT_MESSAGE in text(response)
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    assert count(AutomationSettings) == 0


# --- admin/estate_choice.py: every admin page that takes ?estate= ----------------------------------

def test_every_admin_page_answers_an_estate_that_is_not_a_number_without_an_error(app, as_admin):
    problems = [f"{path}?estate={bad[:20]}: {status}" for path in plain_get_rules(app, "/admin/")
                for bad in NOT_A_NUMBER
                if (status := as_admin.client.get(f"{path}?estate={quote(bad)}").status_code) >= 500]
    assert not problems


def test_an_estate_choice_that_is_not_an_estate_id_is_404(as_admin):
    pages = ["/admin/bills/", "/admin/bills/new", "/admin/bills/statement", "/admin/catalogue/",
             "/admin/catalogue/new", "/admin/catalogue/sync"]
    problems = [f"{path}?estate={bad[:20]}: {status}" for path in pages for bad in NOT_A_NUMBER
                if (status := as_admin.client.get(f"{path}?estate={quote(bad)}").status_code) != 404]
    assert not problems


def test_an_admin_may_still_name_their_own_estate(as_admin, estate):
    assert as_admin.client.get(f"/admin/bills/?estate={estate.id}").status_code == 200


# --- services/history.py and every page number ----------------------------------------------------

def test_a_history_account_filter_that_is_not_a_number_is_ignored_with_a_message(as_resident, resident, meter):
    make_payment(resident, meter)
    for bad in NOT_A_NUMBER:
        response = as_resident.client.get(f"/payments/?account={quote(bad)}")
        assert response.status_code == 200, bad
        assert "Choose one of your own accounts. The account filter was ignored." in text(response)
        assert as_resident.client.get(f"/payments/export.csv?account={quote(bad)}").status_code == 200


@pytest.mark.parametrize("who, prefixes", [
    ("resident", ("/payments/", "/wallet/", "/notifications/", "/automations/", "/accounts/", "/bills/", "/pay/")),
    ("estate_admin", ("/admin/",)),
])
def test_every_list_answers_a_page_number_that_is_not_one_with_its_first_page(app, auth, request, who, prefixes):
    auth.login(request.getfixturevalue(who).email)
    problems = [f"{path}?page={bad[:20]}: {status}"
                for prefix in prefixes for path in plain_get_rules(app, prefix) for bad in NOT_A_NUMBER
                if (status := auth.client.get(f"{path}?page={quote(bad)}").status_code) >= 400]
    assert not problems


# --- submit keys (services/payments/creation.py and services/estate_bills.py) ---------------------

def test_a_submit_key_of_another_residents_payment_is_409_and_creates_nothing(as_resident, resident, other_resident,
                                                                             entry, meter):
    theirs = make_payment(other_resident, make_utility_account(other_resident, entry, "45099999999"),
                          submit_key="their-key")
    fund(resident, 20_000_00)
    response = as_resident.post("/pay/confirm", {"account": str(meter.id), "amount_kobo": "500000",
                                                 "submit_key": theirs.submit_key}, page="/pay/")
    assert response.status_code == 409
    assert "This payment form was already used" in text(response)
    assert count(Payment) == 1


def test_a_resubmitted_confirm_form_of_ones_own_still_returns_the_same_payment(as_resident, resident, meter):
    mine = make_payment(resident, meter, submit_key="my-key")
    response = as_resident.post("/pay/confirm", {"account": str(meter.id), "amount_kobo": "500000",
                                                 "submit_key": "my-key"}, page="/pay/")
    assert response.status_code == 302 and response.headers["Location"] == f"/pay/{mine.id}"
    assert count(Payment) == 1


def test_a_submit_key_of_another_residents_bill_payment_is_409_and_creates_nothing(as_resident, resident,
                                                                                  other_resident, entry):
    make_payment(other_resident, make_utility_account(other_resident, entry, "45099999999"), submit_key="their-key")
    bill = make_estate_bill(resident, amount_kobo=10_000_00, due_date=date.today() + timedelta(days=5))
    fund(resident, 20_000_00)
    response = as_resident.post(f"/bills/{bill.id}/pay", {"amount": "10000", "submit_key": "their-key"})
    assert response.status_code == 409
    assert "This payment form was already used" in text(response)
    assert count(Payment) == 1


def test_when_two_requests_race_with_one_key_the_loser_gets_409_not_a_database_error(app, resident, other_resident,
                                                                                    entry, meter, monkeypatch):
    # The key is free when checked but taken by the time of the insert (the unique constraint decides).
    from webapp.services import payments
    from webapp.services.payments import creation

    fund(resident, 20_000_00)
    theirs = make_payment(other_resident, make_utility_account(other_resident, entry, "45099999999"),
                          submit_key="raced-key")
    real = creation.payment_for_submit_key
    calls = []

    def free_at_first(user, key):
        calls.append(key)
        return None if len(calls) == 1 else real(user, key)

    monkeypatch.setattr(creation, "payment_for_submit_key", free_at_first)
    with pytest.raises(payments.SubmitKeyTaken):
        payments.create_utility_payment(resident, meter.id, 5_000_00, theirs.submit_key)
    assert len(calls) == 2  # the check before the insert, then the one after the IntegrityError
    assert count(Payment) == 1


# --- webhooks without a gateway secret (services/funding.py, webhooks/routes.py) -----------------

@pytest.fixture
def pending_intent(resident):
    intent = FundingIntent(reference="FND-test-0001", user_id=resident.id, gateway="paystack", amount_kobo=5_000_00,
                           expires_at=utcnow() + timedelta(hours=1))
    db.session.add(intent)
    db.session.commit()
    return intent


@pytest.mark.parametrize("gateway, setting", [("paystack", "PAYSTACK_SECRET_KEY"),
                                              ("flutterwave", "FLUTTERWAVE_SECRET_HASH"),
                                              ("flutterwave", "FLUTTERWAVE_SECRET_KEY"),
                                              ("paystack", "PAYSTACK_BASE_URL")])
def test_a_funding_webhook_without_its_gateway_settings_is_503_and_credits_nothing(app, client, pending_intent,
                                                                                  gateway, setting):
    app.config[setting] = ""
    body, headers = (paystack_webhook if gateway == "paystack" else flutterwave_webhook)(pending_intent.reference)
    response = client.post(f"/webhooks/{gateway}", data=body, headers=headers)
    assert response.status_code == 503
    assert response.get_json() == {"error": f"{gateway} webhooks are not configured on this server"}
    db.session.rollback()
    assert db.session.get(FundingIntent, pending_intent.id).status == "pending"


def test_a_configured_gateway_still_refuses_a_bad_signature_with_401(client, pending_intent):
    body, headers = paystack_webhook(pending_intent.reference)
    response = client.post("/webhooks/paystack", data=body, headers={**headers, "x-paystack-signature": "0" * 128})
    assert response.status_code == 401


# --- amounts above the database's and the business's limit ----------------------------------------

CATALOGUE_ENTRY = {
    "name": "Eko Electric Prepaid", "provider_type": "electricity", "api_provider": "vtpass",
    "provider_code": "eko-electric", "item_code": "prepaid", "biller_name": "Eko Electric", "meter_type": "prepaid",
    "label_name": "Meter Number", "fixed_amount": "", "min_amount": "500", "max_amount": "500,000", "fee": "100",
    "supports_validation": "y", "active": "y",
}


@pytest.mark.parametrize("field", ["fixed_amount", "min_amount", "max_amount", "fee"])
def test_a_catalogue_amount_above_the_limit_is_422_with_the_form_kept(as_admin, field):
    before = count(UtilityProvider)
    response = as_admin.post("/admin/catalogue/new", {**CATALOGUE_ENTRY, field: TOO_MUCH})
    assert response.status_code == 422
    assert LIMIT_MESSAGE in text(response)
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    assert count(UtilityProvider) == before


def test_editing_a_catalogue_fee_above_the_limit_is_422_and_changes_nothing(as_admin, entry):
    response = as_admin.post(f"/admin/catalogue/{entry.id}/edit", {**CATALOGUE_ENTRY, "fee": TOO_MUCH})
    assert response.status_code == 422
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(UtilityProvider, entry.id).fee_kobo == 100_00


def bill_form(**fields) -> dict:
    return {"title": "Security levy, June", "bill_type": "security", "amount": "15,000",
            "due_date": (date.today() + timedelta(days=10)).isoformat(), "recipients": "all", **fields}


def test_an_estate_bill_amount_above_the_limit_is_422_with_the_form_kept(as_admin, resident):
    response = as_admin.post("/admin/bills/new", bill_form(amount=TOO_MUCH))
    assert response.status_code == 422
    assert LIMIT_MESSAGE in text(response)
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    assert count(Bill) == 0


def test_an_estate_bill_for_residents_that_are_not_ids_is_422_and_issues_nothing(as_admin, resident):
    issue = form_poster(as_admin, "/admin/bills/new")
    for bad in NOT_A_NUMBER:
        response = issue(bill_form(recipients="chosen", residents=[str(resident.id), bad]))
        assert response.status_code == 422, bad
    assert count(Bill) == 0


def test_paying_an_estate_bill_above_the_limit_is_422_with_the_amount_kept(as_resident, resident):
    bill = make_estate_bill(resident, amount_kobo=10_000_00, due_date=date.today() + timedelta(days=5))
    response = as_resident.post(f"/bills/{bill.id}/pay", {"amount": TOO_MUCH, "submit_key": "k"})
    assert response.status_code == 422
    assert LIMIT_MESSAGE in text(response)
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    assert count(Payment) == 0


def test_funding_above_the_limit_is_refused_with_the_amount_kept(as_resident):
    response = as_resident.post("/wallet/fund", {"amount": TOO_MUCH, "gateway": "paystack"})
    assert response.status_code == 422
    assert f'value="{TOO_MUCH}"' in response.get_data(as_text=True)
    assert count(FundingIntent) == 0

