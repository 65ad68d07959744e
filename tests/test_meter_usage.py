"""When a prepaid meter runs out, predicted from its own top-ups (services/meter_usage), and where
residents see it: the accounts page and the home screen's next 7 days. ``frozen`` stops the clock
on Friday 10 January 2025, 09:00 in Lagos."""
from __future__ import annotations

import html
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from webapp.extensions import db
from webapp.services import meter_usage
from webapp.services.meter_usage import Vend, predict, top_ups, units_of

from .factories import UserFactory
from .factories_payments import make_payment, make_utility_account
from .fixtures_automations import NOW


def vends(*spells: tuple[float, float], last_at: datetime = NOW - timedelta(days=1)) -> list[Vend]:
    """Vends newest first: each (days before the next one, kWh), the newest at ``last_at``.
    The first pair's days is ignored (nothing came after the newest)."""
    found, at = [], last_at
    for days, units in spells:
        at = at - timedelta(days=days) if found else at
        found.append(Vend(at=at, units=Decimal(str(units))))
    return found


@pytest.mark.parametrize("text, units", [("32.5 kWh", Decimal("32.5")), ("16.4", Decimal("16.4")),
                                         ("Units: 100", Decimal(100)), ("", None), (None, None), ("0 kWh", None),
                                         ("N/A", None)])
def test_units_are_read_from_the_providers_words(text, units):
    assert units_of(text) == units


def test_steady_use_predicts_the_day_and_is_sure():
    """100 kWh every 10 days: 10 kWh a day; the latest 100 kWh, bought a day ago, lasts 9 more days."""
    found = predict(vends((0, 100), (10, 100), (10, 100), (10, 100)), NOW)
    assert found.daily_units == Decimal("10.0") and found.units_left == Decimal("90.0")
    assert found.runs_out_at == NOW + timedelta(days=9)
    assert (found.spells, found.confidence) == (3, "good")
    assert found.days_left(NOW) == pytest.approx(9)
    assert found.sure_words == "from your last 3 top-ups, which agree"


def test_irregular_use_is_a_rough_guess():
    found = predict(vends((0, 100), (4, 100), (15, 100), (6, 100)), NOW)
    assert found.confidence == "rough" and "vary" in found.sure_words


def test_too_short_a_history_predicts_nothing_or_roughly():
    assert predict([], NOW) is None
    assert predict(vends((0, 100)), NOW) is None
    two = predict(vends((0, 50), (5, 100)), NOW)  # one spell: 20 kWh a day
    assert (two.daily_units, two.confidence, two.spells) == (Decimal("20.0"), "rough", 1)
    assert two.sure_words == "from your last two top-ups only, a rough guess"


def test_a_change_in_usage_shows_within_a_few_top_ups():
    """Five spells at 10 kWh a day, then three at 20 (the dry season's fans): the rate is already
    nearer 20 than the plain mean over all eight spells (13.75)."""
    history = vends((0, 100), *[(5, 100)] * 3, *[(10, 100)] * 5)
    found = predict(history, NOW)
    assert found.daily_units > Decimal("15")


def test_two_vends_in_an_evening_are_one_top_up():
    evening = NOW - timedelta(days=2)
    merged = top_ups([Vend(evening + timedelta(hours=2), Decimal(30)), Vend(evening, Decimal(20)),
                      Vend(evening - timedelta(days=5), Decimal(50))])
    assert merged == [Vend(evening, Decimal(50)), Vend(evening - timedelta(days=5), Decimal(50))]


def test_a_meter_used_up_long_ago_has_nothing_left():
    found = predict(vends((0, 100), (10, 100), last_at=NOW - timedelta(days=40)), NOW)
    assert found.units_left == 0 and found.days_left(NOW) == 0


def top_up_history(user, account, spells=((0, "120 kWh"), (10, "100 kWh"), (10, "100 kWh"), (10, "100 kWh"))):
    """Succeeded vends with the provider's units, newest a day before NOW."""
    at = NOW - timedelta(days=1)
    for index, (days, units) in enumerate(spells):
        at = at - timedelta(days=days) if index else at
        make_payment(user, account, amount_kobo=10_000_00, created_at=at, units=units)
    db.session.commit()


def test_the_accounts_page_shows_when_each_prepaid_meter_runs_out(frozen, resident, prepaid, postpaid, auth, client):
    kitchen = make_utility_account(resident, prepaid, nickname="Kitchen meter")
    shop = make_utility_account(resident, prepaid, number="4444444444444", nickname="Shop meter")
    make_utility_account(resident, postpaid, number="2222222222222", nickname="Office")
    top_up_history(resident, kitchen)  # 10 kWh a day, 120 kWh a day ago: 11 days left
    make_payment(resident, shop, created_at=NOW - timedelta(days=3), units="50 kWh")
    make_payment(resident, kitchen, status="failed", created_at=NOW, units=None)
    db.session.commit()
    auth.login(resident.email)
    page = " ".join(html.unescape(client.get("/accounts/").get_data(as_text=True)).split())
    kitchen_card = page.split(f'id="account-{kitchen.id}"')[1].split("</article>")[0]
    assert "<strong>Tue 21 Jan</strong> (in 11 days)" in kitchen_card
    assert "About 110.0 kWh left at 10.0 kWh a day, from your last 3 top-ups, which agree" in kitchen_card
    assert f'href="/pay/?account={kitchen.id}"' in kitchen_card
    shop_card = page.split(f'id="account-{shop.id}"')[1].split("</article>")[0]
    assert "Predicted once you have topped up twice" in shop_card
    office_card = page.split("Office")[1].split("</article>")[0]
    assert "Runs out" not in office_card  # postpaid: nothing runs out


def test_the_home_screen_warns_of_a_meter_running_low_this_week(frozen, resident, prepaid, auth, client):
    meter = make_utility_account(resident, prepaid, nickname="Kitchen meter")
    top_up_history(resident, meter, spells=((0, "40 kWh"), (10, "100 kWh"), (10, "100 kWh")))  # 3 days left
    other = UserFactory(estate=resident.estate)
    theirs = make_utility_account(other, prepaid, number="4444444444444", nickname="Their meter")
    top_up_history(other, theirs, spells=((0, "10 kWh"), (10, "100 kWh")))
    auth.login(resident.email)
    response = client.get("/automations/upcoming/next", headers={"HX-Request": "true"})
    card = " ".join(html.unescape(response.get_data(as_text=True)).split())
    assert "Meters running low" in card and "Kitchen meter" in card and "Their meter" not in card
    assert "<strong>Mon 13 Jan</strong> (in 3 days)" in card
    assert f'href="/pay/?account={meter.id}" aria-label="Top up Kitchen meter">Top up</a>' in card


def test_no_warning_for_a_meter_with_weeks_left(frozen, resident, prepaid, auth, client):
    meter = make_utility_account(resident, prepaid, nickname="Kitchen meter")
    top_up_history(resident, meter)
    auth.login(resident.email)
    card = client.get("/automations/upcoming/next", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Meters running low" not in card


def test_predictions_read_only_the_residents_own_meters(frozen, resident, prepaid):
    other = UserFactory(estate=resident.estate)
    theirs = make_utility_account(other, prepaid, number="4444444444444")
    top_up_history(other, theirs)
    assert meter_usage.predictions_for(resident.id, NOW) == {}
    assert list(meter_usage.predictions_for(other.id, NOW)) == [theirs.id]


def test_top_ups_bought_ahead_of_the_run_out_never_run_away():
    """A meter using 10 kWh a day, first topped up by hand when empty (100 kWh every 10 days), then
    only by the automation a day ahead of each predicted run-out. Each early top-up leaves a day's
    units in the meter: counted, the rate stays 10 kWh a day and the top-ups 10 days apart; were it
    not, each would look like faster use and come earlier than the last."""
    history = vends((0, 100), (10, 100), (10, 100), last_at=NOW - timedelta(days=40))
    lead = timedelta(days=1)
    bought = []
    for _ in range(12):
        found = predict(history, NOW)
        when = found.runs_out_at - lead
        bought.append(when)
        history = [Vend(at=when, units=Decimal(100), lead=lead), *history]
    gaps = [(later - earlier).total_seconds() / 86400 for earlier, later in zip(bought, bought[1:])]
    assert gaps == pytest.approx([10] * 11, abs=0.01)
    assert predict(history, NOW).daily_units == Decimal("10.0")


def test_a_resident_topping_up_an_empty_meter_corrects_the_rate():
    """The automation's top-ups a day ahead, then usage doubles: the meter runs dry before the next
    one and the resident buys 100 kWh by hand; the rate moves up towards 20 kWh a day."""
    lead = timedelta(days=1)
    start = NOW - timedelta(days=60)
    history = [Vend(start + timedelta(days=10 * i), Decimal(100), lead=lead if i >= 3 else timedelta(0))
               for i in range(5)][::-1]
    before = predict(history, NOW).daily_units
    dry = history[0].at + timedelta(days=5.5)  # 110 kWh at 20 a day
    after = predict([Vend(dry, Decimal(100)), *history], NOW).daily_units
    assert Decimal(9) <= before <= Decimal("10.5") and after > Decimal(12)
