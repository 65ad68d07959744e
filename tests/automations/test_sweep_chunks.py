"""The sweep works on chunks of residents: one transaction and a few statements per chunk, each
resident's outcome exactly what sweeping them alone gives, each occurrence paid once."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import AutomationOccurrence, Notification, Payment
from webapp.services import automations, ledger
from webapp.services.automations import sweep

from ..factories import make_user
from ..factories_automations import make_automation, make_estate_bill, save_settings
from ..factories_payments import make_catalogue_entry, make_payment, make_utility_account
from ..sql_counting import counted_statements

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # 09:00 in Lagos on the 1st
EARLIER = NOW - timedelta(hours=30)  # a run whose grace window (24 h) has ended by NOW
TWO_MONTHS_AGO = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)  # missed on Jan 1 and Feb 1 (the sweep was down)


@pytest.fixture
def entry(estate):
    return make_catalogue_entry(estate)  # ₦500..₦500,000, fee ₦100


def resident_with(estate, entry, funds_kobo: int, n: int = 1, **settings):
    """A resident with ``funds_kobo`` in the wallet, ``settings`` saved and ``n`` meters."""
    user = make_user(estate=estate)
    if funds_kobo:
        ledger.credit_funding(user.id, funds_kobo, "paystack", f"fund-{user.id}")
        db.session.commit()
    if settings:
        save_settings(user, **settings)
    meters = [make_utility_account(user, entry, number=f"4{user.id:04d}{k:08d}", nickname=f"Meter {k + 1}")
              for k in range(n)]
    return user, meters


def fund(user, kobo: int) -> None:
    ledger.credit_funding(user.id, kobo, "paystack", f"topup-{user.id}-{kobo}")
    db.session.commit()


def outcome(automation) -> list[tuple]:
    """(status, reason, amount paid) of each of the automation's occurrences, oldest first."""
    db.session.rollback()
    rows = db.session.execute(
        select(AutomationOccurrence.status, AutomationOccurrence.reason, Payment.amount_kobo)
        .outerjoin(Payment, Payment.id == AutomationOccurrence.payment_id)
        .where(AutomationOccurrence.automation_id == automation.id).order_by(AutomationOccurrence.scheduled_for))
    return [tuple(row) for row in rows]


def notified(user) -> dict[str, int]:
    db.session.rollback()
    return dict(db.session.execute(select(Notification.event, func.count()).where(Notification.user_id == user.id)
                                   .group_by(Notification.event)).all())


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def chunks_of(monkeypatch, size: int) -> None:
    monkeypatch.setattr(sweep, "FIRST_BATCH", size)
    monkeypatch.setattr(sweep, "MAX_BATCH", size)


@pytest.fixture
def mixed(estate, entry):
    """Nine residents whose automations, swept at NOW, end every way an occurrence can."""
    world = {}
    user, (meter,) = resident_with(estate, entry, 50_000_00)
    world["paid"] = make_automation(user, meter, first_run=NOW, amount_kobo=5_000_00)
    user, (meter,) = resident_with(estate, entry, 4_100_00, min_balance_kobo=1_000_00)
    world["partial"] = make_automation(user, meter, first_run=NOW, amount_kobo=10_000_00, allow_partial=True,
                                       partial_min_kobo=2_000_00)
    user, (meter,) = resident_with(estate, entry, 50_000_00, electricity_cap_kobo=4_000_00)
    world["limited"] = make_automation(user, meter, first_run=NOW, amount_kobo=5_000_00)
    user, (meter,) = resident_with(estate, entry, 1_000_00)
    world["short"] = make_automation(user, meter, first_run=NOW, amount_kobo=5_000_00)
    user, (first, second) = resident_with(estate, entry, 3_000_00, n=2)
    world["first_in_line"] = make_automation(user, first, first_run=NOW, priority=3, amount_kobo=5_000_00)
    world["behind"] = make_automation(user, second, first_run=NOW, priority=1, amount_kobo=1_000_00)
    user, (meter,) = resident_with(estate, entry, 1_000_00, grace_hours=24)
    world["missed"] = make_automation(user, meter, first_run=EARLIER, amount_kobo=5_000_00)
    automations.run_sweep(EARLIER)  # only this one is due: it waits for money
    user, _ = resident_with(estate, entry, 50_000_00)
    make_estate_bill(user, amount_kobo=20_000_00)
    world["estate_bill"] = make_automation(user, None, first_run=NOW, amount_mode="full_outstanding",
                                           amount_kobo=None, bill_type="service_charge")
    user, (meter,) = resident_with(estate, entry, 50_000_00)
    world["asked_to_skip"] = make_automation(user, meter, first_run=NOW, skip_next=True)
    user, (meter,) = resident_with(estate, entry, 50_000_00)
    world["after_downtime"] = make_automation(user, meter, first_run=TWO_MONTHS_AGO)
    return world


@pytest.mark.parametrize("chunk", [1, 16], ids=["alone", "one-chunk"])
def test_a_chunk_of_residents_ends_each_as_sweeping_them_alone_does(monkeypatch, mixed, chunk):
    chunks_of(monkeypatch, chunk)
    report = automations.run_sweep(NOW)

    assert outcome(mixed["paid"]) == [("paid", None, 5_000_00)]
    assert outcome(mixed["partial"]) == [("paid", "Partial payment", 3_000_00)]  # 4,100 − 1,000 − 100 fee
    assert outcome(mixed["limited"]) == [
        ("limit_reached", "Your ₦4,000 monthly cap for electricity was reached", None)]
    assert outcome(mixed["short"]) == [("waiting", "Waiting for money in your wallet", None)]
    assert outcome(mixed["first_in_line"]) == [("waiting", "Waiting for money in your wallet", None)]
    assert outcome(mixed["behind"]) == [
        ("waiting", "Waiting: a higher-priority payment is first in line for your wallet", None)]
    assert outcome(mixed["missed"]) == [
        ("missed", "Not enough money in your wallet before the grace period ended", None)]
    assert outcome(mixed["estate_bill"]) == [("paid", None, 20_000_00)]
    assert outcome(mixed["asked_to_skip"]) == [("skipped", "Skipped at your request", None)]
    missed_while_down = ("skipped", "Missed while payments were paused; only the latest is paid", None)
    assert outcome(mixed["after_downtime"]) == [missed_while_down, missed_while_down, ("paid", None, 5_000_00)]

    assert notified(mixed["limited"].user) == {"limit_reached": 1}
    assert notified(mixed["short"].user) == {"low_balance": 1}
    assert notified(mixed["behind"].user) == {"low_balance": 2}
    assert notified(mixed["missed"].user) == {"low_balance": 1, "payment_failed": 1}
    assert notified(mixed["paid"].user) == {}
    assert (report.residents, report.payments, report.waiting, report.limited, report.missed, report.skipped) == \
        (9, 4, 3, 1, 1, 3)
    assert sorted(report.created) == sorted(db.session.scalars(select(Payment.id)))


def test_the_created_payments_are_queued_after_the_commit(mixed):
    automations.run_sweep(NOW)
    queued = [payment_id for job in queue(PAYMENTS).get_jobs() for payment_id in _payment_ids(job.args)]
    assert sorted(queued) == sorted(db.session.scalars(select(Payment.id).where(Payment.status == "created")))
    assert len(queued) == 4


def _payment_ids(args) -> list[int]:
    (first,) = args
    return list(first) if isinstance(first, list) else [first]


def test_sweeping_the_same_minute_again_changes_nothing(mixed):
    automations.run_sweep(NOW)
    before = {name: outcome(automation) for name, automation in mixed.items()}
    notifications = count(Notification)
    report = automations.run_sweep(NOW)
    assert report.payments == 0
    assert {name: outcome(automation) for name, automation in mixed.items()} == before
    assert (count(Payment), count(AutomationOccurrence), count(Notification)) == (4, 12, notifications)


def test_a_chunk_writes_each_table_with_one_statement(monkeypatch, mixed):
    chunks_of(monkeypatch, 16)
    with counted_statements() as statements:
        automations.run_sweep(NOW)
    written = [s.split("(")[0].split(" SET")[0].strip() for s in statements if s.startswith(("INSERT", "UPDATE"))]
    for table in ("automation_occurrences", "payments", "payment_events", "notifications", "email_messages"):
        assert written.count(f"INSERT INTO {table}") == 1
    assert written.count("UPDATE automation_occurrences") == 1
    locks = 1 if db.engine.dialect.name == "sqlite" else 0  # SQLite: a no-op UPDATE takes the write lock first
    assert written.count("UPDATE automations") == 1 + locks
    assert any("updated_at" in s for s in statements if s.startswith("UPDATE automation_occurrences"))


def test_a_chunk_costs_the_same_statements_for_two_residents_as_for_six(estate, entry):
    people = [resident_with(estate, entry, 50_000_00, n=2) for _ in range(8)]
    for user, meters in people:
        for meter in meters:
            make_automation(user, meter, first_run=NOW, amount_kobo=2_000_00)
    ids = [user.id for user, _ in people]
    costs = []
    for chunk in (ids[:2], ids[2:]):
        db.session.rollback()
        with counted_statements() as statements:
            sweep.sweep_residents(chunk, NOW, sweep.SweepReport())
        costs.append(len(statements))
    assert count(Payment) == 16
    assert costs[0] == costs[1]
    assert costs[0] <= 20


def test_an_occurrence_another_sweep_recorded_leaves_only_its_resident_alone(caplog, estate, entry):
    people = [resident_with(estate, entry, 50_000_00) for _ in range(3)]
    runs = [make_automation(user, meter, first_run=NOW) for user, (meter,) in people]
    taken = runs[1]
    # Recorded by "another sweep" that has not moved next_run_at yet: its key is taken.
    db.session.execute(insert(AutomationOccurrence).values(
        automation_id=taken.id, user_id=taken.user_id, scheduled_for=NOW, status="waiting",
        retry_until=NOW + timedelta(hours=72)))
    db.session.commit()

    with caplog.at_level(logging.INFO, logger=sweep.__name__):
        report = automations.run_sweep(NOW)

    assert [outcome(run) for run in runs] == [[("paid", None, 5_000_00)], [("waiting", None, None)],
                                              [("paid", None, 5_000_00)]]
    assert report.payments == 2
    assert f"resident {taken.user_id} was swept concurrently" in caplog.text
    db.session.refresh(taken)
    assert taken.next_run_at == NOW  # left to the sweep that owns it


def test_a_payment_key_already_taken_leaves_only_its_resident_alone(estate, entry):
    people = [resident_with(estate, entry, 50_000_00) for _ in range(3)]
    runs = [make_automation(user, meter, first_run=NOW) for user, (meter,) in people]
    taken = runs[1]
    # A payment that already claims the occurrence's key: the chunk gets as far as creating payments.
    make_payment(taken.user, taken.utility_account, status="created",
                 occurrence_key=f"auto:{taken.id}:{NOW:%Y%m%dT%H%MZ}")

    report = automations.run_sweep(NOW)

    assert outcome(runs[0]) == outcome(runs[2]) == [("paid", None, 5_000_00)]
    assert outcome(taken) == []
    assert report.payments == 2
    for run in runs:
        db.session.refresh(run)
    assert [run.next_run_at for run in runs] == [datetime(2027, 4, 1, 8, 0, tzinfo=UTC), NOW,
                                                datetime(2027, 4, 1, 8, 0, tzinfo=UTC)]


def test_two_sweeps_racing_pay_every_occurrence_once(app, require_postgres, estate, entry):
    waiting = []
    for _ in range(4):
        user, (meter,) = resident_with(estate, entry, 1_000_00)
        waiting.append(make_automation(user, meter, first_run=EARLIER))
    automations.run_sweep(EARLIER)  # these wait for money...
    for run in waiting:
        fund(run.user, 50_000_00)  # ...which has come
    due = []
    for _ in range(8):
        user, meters = resident_with(estate, entry, 50_000_00, n=2)
        due += [make_automation(user, meter, first_run=NOW, amount_kobo=1_000_00) for meter in meters]
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def sweep_now():
        with app.app_context():
            try:
                barrier.wait()
                reports.append(automations.run_sweep(NOW))
            except Exception as exc:  # surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=sweep_now) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(Payment) == 20
    assert sum(report.payments for report in reports) == 20
    assert all(outcome(run)[-1][0] == "paid" for run in waiting + due)
    assert count(AutomationOccurrence) == 20
