"""The sweep: exactly one payment per occurrence, downtime, limits, priority and insufficient funds."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AutomationOccurrence, Notification, Payment
from webapp.services import automations, ledger

from ..factories_automations import make_automation, make_estate_bill, save_settings
from ..factories_payments import make_catalogue_entry, make_utility_account

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # 09:00 in Lagos on the 1st


@pytest.fixture
def account(app, estate, resident):
    entry = make_catalogue_entry(estate)  # ₦500..₦500,000, fee ₦100
    return make_utility_account(resident, entry, nickname="Home meter")


def fund(user, kobo, ref="fund"):
    ledger.credit_funding(user.id, kobo, "paystack", f"{ref}-{user.id}-{kobo}")
    db.session.commit()


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def occurrences(automation, status=None):
    db.session.rollback()
    query = select(AutomationOccurrence).where(AutomationOccurrence.automation_id == automation.id)
    if status:
        query = query.where(AutomationOccurrence.status == status)
    return list(db.session.scalars(query.order_by(AutomationOccurrence.scheduled_for)))


def notifications(user, event) -> int:
    return count(Notification, Notification.user_id == user.id, Notification.event == event)


def test_sweep_run_three_times_for_the_same_minute_creates_one_payment(resident, account):
    fund(resident, 50_000_00)
    automation = make_automation(resident, account, first_run=NOW)
    for _ in range(3):
        automations.run_sweep(NOW)
    assert count(Payment) == 1
    payment = db.session.scalar(select(Payment))
    assert payment.source == "automation"
    assert payment.occurrence_key == f"auto:{automation.id}:20270301T0800Z"
    db.session.refresh(automation)
    assert automation.next_run_at == datetime(2027, 4, 1, 8, 0, tzinfo=UTC)


def test_nothing_is_paid_before_the_run_time(resident, account):
    fund(resident, 50_000_00)
    make_automation(resident, account, first_run=NOW)
    automations.run_sweep(NOW - timedelta(minutes=1))
    assert count(Payment) == 0


def test_disabled_and_paused_automations_do_not_run(resident, account):
    fund(resident, 50_000_00)
    make_automation(resident, account, first_run=NOW, enabled=False)
    make_automation(resident, account, first_run=NOW, paused_at=NOW - timedelta(days=1))
    automations.run_sweep(NOW)
    assert count(Payment) == 0


def test_after_downtime_only_the_latest_missed_occurrence_is_paid(resident, account):
    fund(resident, 50_000_00)
    automation = make_automation(resident, account, first_run=NOW)
    automations.run_sweep(NOW + timedelta(days=62))  # Mar 1, Apr 1 and May 1 all missed
    assert count(Payment) == 1
    assert [o.status for o in occurrences(automation)] == ["skipped", "skipped", "paid"]
    assert occurrences(automation)[-1].scheduled_for == datetime(2027, 5, 1, 8, 0, tzinfo=UTC)


def test_catch_up_none_skips_every_late_occurrence(resident, account):
    fund(resident, 50_000_00)
    automation = make_automation(resident, account, first_run=NOW, catch_up="none")
    automations.run_sweep(NOW + timedelta(days=62))
    assert count(Payment) == 0
    assert [o.status for o in occurrences(automation)] == ["skipped"] * 3


def test_skip_next_skips_one_occurrence(resident, account):
    fund(resident, 50_000_00)
    automation = make_automation(resident, account, first_run=NOW, skip_next=True)
    automations.run_sweep(NOW)
    assert count(Payment) == 0
    db.session.refresh(automation)
    assert automation.skip_next is False
    automations.run_sweep(automation.next_run_at)
    assert count(Payment) == 1


def test_insufficient_funds_waits_notifies_once_and_pays_when_funded(resident, account):
    fund(resident, 1_000_00)
    automation = make_automation(resident, account, first_run=NOW)
    for minutes in (0, 1, 2):
        automations.run_sweep(NOW + timedelta(minutes=minutes))
    assert count(Payment) == 0
    assert [o.status for o in occurrences(automation)] == ["waiting"]
    assert notifications(resident, "low_balance") == 1
    fund(resident, 10_000_00, ref="topup")
    automations.run_sweep(NOW + timedelta(hours=5))
    assert count(Payment) == 1
    assert [o.status for o in occurrences(automation)] == ["paid"]


def test_insufficient_funds_is_missed_after_the_grace_window(resident, account):
    save_settings(resident, grace_hours=24)
    fund(resident, 1_000_00)
    automation = make_automation(resident, account, first_run=NOW)
    automations.run_sweep(NOW)
    automations.run_sweep(NOW + timedelta(hours=23))
    assert [o.status for o in occurrences(automation)] == ["waiting"]
    automations.run_sweep(NOW + timedelta(hours=25))
    automations.run_sweep(NOW + timedelta(hours=26))
    assert [o.status for o in occurrences(automation)] == ["missed"]
    assert count(Payment) == 0
    assert notifications(resident, "low_balance") == 1
    assert notifications(resident, "payment_failed") == 1  # told once that it was missed


def test_higher_priority_pays_first_when_funds_are_short(resident, estate, account):
    second = make_utility_account(resident, account.provider, number="12345678901", nickname="Shop meter")
    fund(resident, 6_000_00)
    low = make_automation(resident, account, first_run=NOW, priority=1, amount_kobo=5_000_00)
    high = make_automation(resident, second, first_run=NOW, priority=3, amount_kobo=5_000_00)
    automations.run_sweep(NOW)
    assert [o.status for o in occurrences(high)] == ["paid"]
    assert [o.status for o in occurrences(low)] == ["waiting"]


def test_minimum_balance_is_left_untouched(resident, account):
    save_settings(resident, min_balance_kobo=2_000_00)
    fund(resident, 6_000_00)
    automation = make_automation(resident, account, first_run=NOW, amount_kobo=5_000_00)
    automations.run_sweep(NOW)
    assert [o.status for o in occurrences(automation)] == ["waiting"]  # 6,000 − 5,100 < 2,000


def test_partial_payment_pays_what_the_balance_allows(resident, account):
    save_settings(resident, min_balance_kobo=1_000_00)
    fund(resident, 4_100_00)
    automation = make_automation(resident, account, first_run=NOW, amount_kobo=10_000_00, allow_partial=True,
                                 partial_min_kobo=2_000_00)
    automations.run_sweep(NOW)
    payment = db.session.scalar(select(Payment))
    assert payment.amount_kobo == 3_000_00  # 4,100 − 1,000 minimum − 100 fee
    assert occurrences(automation)[0].reason == "Partial payment"


def test_monthly_cap_stops_payment_and_tells_the_resident(resident, account):
    save_settings(resident, electricity_cap_kobo=4_000_00)
    fund(resident, 50_000_00)
    automation = make_automation(resident, account, first_run=NOW, amount_kobo=5_000_00)
    automations.run_sweep(NOW)
    assert [o.status for o in occurrences(automation)] == ["limit_reached"]
    assert notifications(resident, "limit_reached") == 1
    assert count(Payment) == 0


def test_estate_bill_automation_pays_the_open_bill_into_the_estate_wallet(resident, estate):
    from webapp.services import payments

    fund(resident, 50_000_00)
    bill = make_estate_bill(resident, amount_kobo=20_000_00)
    make_automation(resident, None, first_run=NOW, amount_mode="full_outstanding", amount_kobo=None,
                    bill_type="service_charge")
    automations.run_sweep(NOW)
    payment = db.session.scalar(select(Payment))
    payments.process(payment.id)
    db.session.rollback()
    assert db.session.get(Payment, payment.id).status == "succeeded"
    assert db.session.get(type(bill), bill.id).status == "paid"
    assert ledger.balance(ledger.estate_account(estate.id).id) == 20_000_00
    assert ledger.check_invariants() == []


def test_partial_estate_bill_payment_marks_it_partially_paid(resident, estate):
    from webapp.services import payments

    fund(resident, 8_000_00)
    bill = make_estate_bill(resident, amount_kobo=20_000_00)
    make_automation(resident, None, first_run=NOW, amount_mode="full_outstanding", amount_kobo=None,
                    bill_type="service_charge", allow_partial=True, partial_min_kobo=1_000_00)
    automations.run_sweep(NOW)
    payments.process(db.session.scalar(select(Payment.id)))
    db.session.rollback()
    assert db.session.get(type(bill), bill.id).status == "partially_paid"
    assert db.session.get(type(bill), bill.id).amount_paid_kobo == 8_000_00


def test_two_sweeps_at_once_create_no_duplicates(app, require_postgres, resident, other_resident, account):
    people = [resident, other_resident]
    for person in people:
        fund(person, 500_000_00)
    entry = account.provider
    for person in people:
        for n in range(5):
            acct = make_utility_account(person, entry, number=f"2{person.id:02d}{n:08d}")
            make_automation(person, acct, first_run=NOW, amount_kobo=1_000_00)
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        with app.app_context():
            try:
                barrier.wait()
                automations.run_sweep(NOW)
            except Exception as exc:  # surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(Payment) == 10
    assert count(AutomationOccurrence) == 10
