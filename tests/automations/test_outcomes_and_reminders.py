"""Automation outcomes through the real worker path, and reminders sent once per occurrence."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Automation, EmailMessage, Notification, Payment
from webapp.services import automations, ledger, notify

from ..factories_automations import make_automation, save_settings
from ..factories_payments import make_catalogue_entry, make_utility_account
from ..payments.helpers import run_worker

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def entry(app, sandbox, estate):
    return make_catalogue_entry(estate)


def fund(user, kobo):
    ledger.credit_funding(user.id, kobo, "paystack", f"fund-{user.id}-{kobo}")
    db.session.commit()


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_automation_pays_through_the_worker_and_tells_the_resident(resident, entry):
    fund(resident, 50_000_00)
    account = make_utility_account(resident, entry, number="1111111111111")
    make_automation(resident, account, first_run=NOW)
    automations.run_sweep(NOW)
    run_worker()
    payment = db.session.scalar(select(Payment))
    assert payment.status == "succeeded" and payment.token
    note = db.session.scalar(select(Notification).where(Notification.event == "payment_succeeded"))
    assert " ".join(payment.token_groups) in note.body
    assert ledger.check_invariants() == []


def test_pauses_after_n_consecutive_failures_and_says_why(resident, entry):
    save_settings(resident, pause_after_failures=2)
    fund(resident, 50_000_00)
    blocked = make_utility_account(resident, entry, number="5000000000000")
    automation = make_automation(resident, blocked, first_run=NOW)
    automations.run_sweep(NOW)
    run_worker()
    db.session.rollback()
    automation = db.session.get(Automation, automation.id)
    assert automation.consecutive_failures == 1 and automation.paused_at is None
    automations.run_sweep(automation.next_run_at)
    run_worker()
    db.session.rollback()
    automation = db.session.get(Automation, automation.id)
    assert automation.consecutive_failures == 2
    assert automation.paused_at is not None
    assert "2 failed payments in a row" in automation.pause_reason
    assert count(Notification, Notification.event == "automation_paused") == 1
    automations.run_sweep(automation.next_run_at)  # paused: nothing more is paid
    assert count(Payment) == 2
    assert ledger.check_invariants() == []


def test_a_success_resets_the_failure_count(resident, entry):
    fund(resident, 50_000_00)
    account = make_utility_account(resident, entry, number="1111111111111")
    automation = make_automation(resident, account, first_run=NOW, consecutive_failures=2)
    automations.run_sweep(NOW)
    run_worker()
    db.session.rollback()
    assert db.session.get(Automation, automation.id).consecutive_failures == 0


def test_reminder_is_sent_once_even_when_the_job_runs_twice(resident, entry):
    account = make_utility_account(resident, entry)
    make_automation(resident, account, first_run=NOW)
    assert automations.send_reminders(NOW - timedelta(hours=30)) == 0  # outside the 24 h lead time
    assert automations.send_reminders(NOW - timedelta(hours=20)) == 1
    assert automations.send_reminders(NOW - timedelta(hours=19)) == 0
    assert count(Notification, Notification.event == "payment_upcoming") == 1


def test_result_notification_sent_once_when_the_worker_runs_twice(resident, entry):
    from webapp.services import payments

    fund(resident, 50_000_00)
    account = make_utility_account(resident, entry, number="1111111111111")
    make_automation(resident, account, first_run=NOW)
    automations.run_sweep(NOW)
    payment_id = db.session.scalar(select(Payment.id))
    payments.process(payment_id)
    payments.process(payment_id)  # a replayed job
    assert count(Notification, Notification.event == "payment_succeeded") == 1
    assert count(EmailMessage, EmailMessage.dedup_key.like("payment:%:succeeded:email")) == 1


def test_turned_off_preference_sends_nothing_on_that_channel(resident, entry):
    notify.set_preference(resident.id, notify.NotificationEvent.PAYMENT_UPCOMING, "in_app", False)
    db.session.commit()
    account = make_utility_account(resident, entry)
    make_automation(resident, account, first_run=NOW)
    automations.send_reminders(NOW - timedelta(hours=1))
    assert count(Notification, Notification.event == "payment_upcoming") == 0
