"""Upcoming tells the truth: what it projects for two weeks is what the real sweep then pays, run by
run, when the clock walks through those two weeks with the real worker buying from the sandbox.

The case has all the rules at once: three automations of different priorities, a water cap that a
partial payment meets, a minimum balance, a run the wallet cannot cover (which then waits and is
missed), a lower-priority run held behind it, and a higher-priority one that still pays."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationOccurrence
from webapp.queries.upcoming import upcoming
from webapp.services import automations, ledger

from ..factories_automations import make_automation, save_settings
from ..factories_payments import make_catalogue_entry, make_utility_account
from ..payments.helpers import run_worker

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # Monday 1 March 2027, 09:00 in Lagos
GRACE = timedelta(hours=30)
# What each projected row must be once the sweep has decided it (an occurrence still waiting when
# the two weeks end counts as "short", as a missed one does).
SAME = {"paid": {"paid"}, "partial": {"paid"}, "capped": {"limit_reached"}, "short": {"waiting", "missed"},
        "skipped": {"skipped"}}


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def clock():
    with time_machine.travel(START - timedelta(minutes=5), tick=True) as traveller:
        yield traveller


@pytest.fixture
def resident_with_rules(clock, sandbox, estate, resident):
    # The sandbox's clock is the machine's: VTpass's "request_id starts with today" is not this test's subject.
    sandbox.configure(request_id_today_only=False)
    power = make_catalogue_entry(estate)  # ₦100 fee
    water = make_catalogue_entry(estate, name="Lagos Water", provider_type="water", provider_code="lagos-water",
                                 item_code="water", meter_type=None)  # ₦100 fee
    save_settings(resident, min_balance_kobo=1_000_00, water_cap_kobo=3_000_00, grace_hours=GRACE.seconds // 3600
                  + GRACE.days * 24)
    ledger.credit_funding(resident.id, 15_000_00, "paystack", "FUND-MATCH-1")
    db.session.commit()
    home = make_utility_account(resident, power, number="1111111111111", nickname="Home meter")
    shop = make_utility_account(resident, power, number="1212121212121", nickname="Shop meter")
    tap = make_utility_account(resident, water, number="0101010101", nickname="Tap")
    weekly = {"schedule_kind": "weekly"}
    made = {
        "home": make_automation(resident, home, amount_kobo=4_000_00, first_run=START, priority=2,
                                weekdays="0", **weekly),  # Mondays
        "tap": make_automation(resident, tap, amount_kobo=2_000_00, first_run=START, priority=1, weekdays="0,3",
                               allow_partial=True, partial_min_kobo=500_00, **weekly),  # Mondays and Thursdays
        "shop": make_automation(resident, shop, amount_kobo=3_000_00, first_run=START + timedelta(days=2),
                                priority=3, weekdays="2", **weekly),  # Wednesdays
    }
    return resident, made


def test_what_upcoming_projects_is_what_the_sweep_pays(clock, resident_with_rules):
    resident, made = resident_with_rules
    names = {automation.id: name for name, automation in made.items()}
    view = upcoming(resident, days=14)
    projected = {(names[i.automation_id], i.when): (i.status, i.amount_kobo) for i in view.items}
    # The case is what the docstring says (so the comparison below is not of two empty lists).
    assert sorted({status for status, _ in projected.values()}) == ["capped", "paid", "partial", "short"]
    assert view.shortfall is not None and view.shortfall.date.isoformat() == "2027-03-08"

    # Walk the clock through the two weeks: a sweep at each run and when each grace period ends,
    # the worker paying what each sweep decided before the next.
    moments = sorted({i.when for i in view.items} | {i.when + GRACE + timedelta(minutes=1) for i in view.items})
    for moment in (m for m in moments if m <= view.until):
        clock.move_to(moment)
        automations.run_sweep(moment)
        run_worker()

    db.session.rollback()
    actual = {(names[o.automation_id], o.scheduled_for): (o.status, o.amount_kobo)
              for o in db.session.scalars(select(AutomationOccurrence).where(
                  AutomationOccurrence.user_id == resident.id, AutomationOccurrence.scheduled_for <= view.until))}
    assert actual.keys() == projected.keys()
    for run, (status, amount) in projected.items():
        real_status, real_amount = actual[run]
        assert real_status in SAME[status], (run, status, real_status)
        if status in ("paid", "partial"):
            assert real_amount == amount, (run, amount, real_amount)
    assert ledger.wallet_balance(resident.id) == view.end_balance_kobo
    assert ledger.check_invariants() == []
