"""Append-only rows written a table at a time (``bulk_writes.deferred``), and the same rows one
at a time outside a block."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra import bulk_writes
from webapp.models import AuditEntry, Automation, AutomationOccurrence, Notification, Payment
from webapp.services import audit, notify
from webapp.services.automations import outcomes as automation_outcomes

from .factories_automations import make_automation
from .factories_payments import make_catalogue_entry, make_payment, make_utility_account
from .sql_counting import counted_statements

E = notify.NotificationEvent
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def inbox(user_id: int) -> list[str]:
    return list(db.session.scalars(select(Notification.dedup_key).where(Notification.user_id == user_id)
                                   .order_by(Notification.id)))


def test_rows_of_a_block_wait_for_its_end_and_go_in_one_statement_per_table(resident):
    with counted_statements() as seen, bulk_writes.deferred():
        for n in range(5):
            audit.record("payment.debit", "payment", n, estate_id=resident.estate_id, actor="worker")
            notify.notify(resident.id, E.PAYMENT_FAILED, title="Failed", body="b", dedup_key=f"payment:D{n}:failed")
        assert [s for s in seen if s.startswith("INSERT")] == [], "nothing written before the block ends"
    inserts = [s.split()[2] for s in seen if s.startswith("INSERT")]
    assert sorted(inserts) == ["audit_entries", "email_messages", "notifications"], seen
    db.session.commit()
    assert count(AuditEntry) == 5
    assert inbox(resident.id) == [f"payment:D{n}:failed" for n in range(5)]
    assert notify.enqueue_pending_emails() == 5, "the outbox rows written at the block's end are enqueued"


def test_a_dedup_key_is_kept_once_in_a_block_and_across_blocks(resident):
    notify.notify(resident.id, E.PAYMENT_FAILED, title="First", body="b", dedup_key="payment:X:failed")
    db.session.commit()
    notify.enqueue_pending_emails()
    with bulk_writes.deferred():
        for title in ("Again", "And again"):
            notify.notify(resident.id, E.PAYMENT_FAILED, title=title, body="b", dedup_key="payment:X:failed")
        notify.notify(resident.id, E.PAYMENT_FAILED, title="New", body="b", dedup_key="payment:Y:failed")
        notify.notify(resident.id, E.PAYMENT_FAILED, title="New twice", body="b", dedup_key="payment:Y:failed")
    db.session.commit()
    titles = db.session.scalars(select(Notification.title).where(Notification.user_id == resident.id)
                                .order_by(Notification.id)).all()
    assert titles == ["First", "New"], "an existing key writes nothing; the first of two in a block wins"
    assert notify.enqueue_pending_emails() == 1, "only the new outbox row is enqueued"


def test_a_commit_inside_a_block_with_rows_waiting_raises_and_writes_nothing(resident):
    with pytest.raises(bulk_writes.DeferredRowsNotWritten), bulk_writes.deferred():
        audit.record("payment.debit", "payment", 1, estate_id=resident.estate_id, actor="worker")
        db.session.commit()
    db.session.rollback()
    assert count(AuditEntry) == 0


def test_a_block_that_raises_writes_nothing(resident):
    with pytest.raises(RuntimeError), bulk_writes.deferred():
        audit.record("payment.debit", "payment", 1, estate_id=resident.estate_id, actor="worker")
        raise RuntimeError("boom")
    db.session.commit()
    assert count(AuditEntry) == 0


def test_a_nested_block_belongs_to_the_outer_one(resident):
    with bulk_writes.deferred():
        with bulk_writes.deferred():
            audit.record("payment.debit", "payment", 1, estate_id=resident.estate_id, actor="worker")
        assert count(AuditEntry) == 0, "the inner block's end writes nothing"
    db.session.commit()
    assert count(AuditEntry) == 1


def test_a_savepoint_released_inside_a_block_does_not_trip_the_commit_guard(resident):
    with bulk_writes.deferred():
        audit.record("payment.debit", "payment", 1, estate_id=resident.estate_id, actor="worker")
        with db.session.begin_nested():
            audit.record("payment.debit", "payment", 2, estate_id=resident.estate_id, actor="worker")
    db.session.commit()
    assert count(AuditEntry) == 2


def test_outside_a_block_rows_are_added_at_once_as_before(resident):
    entry = audit.record("payment.debit", "payment", 1, estate_id=resident.estate_id, actor="worker")
    assert isinstance(entry, AuditEntry)
    assert notify.notify(resident.id, E.PAYMENT_FAILED, title="F", body="b", dedup_key="payment:Z:failed") == [
        "in_app", "email"]
    assert notify.notify(resident.id, E.PAYMENT_FAILED, title="F", body="b", dedup_key="payment:Z:failed") == []
    db.session.commit()
    assert entry.id is not None and inbox(resident.id) == ["payment:Z:failed"]


# ------------------------------------------------- flags set back (an automation's failure count)

@pytest.fixture
def account(resident, estate):
    return make_utility_account(resident, make_catalogue_entry(estate))


def _automations(resident, account, failures: list[int]) -> list[int]:
    return [make_automation(resident, account, first_run=NOW, consecutive_failures=n).id for n in failures]


def _payment_of(resident, account, automation_id: int) -> Payment:
    """A final payment of one of the automation's occurrences."""
    payment = make_payment(resident, account, status="failed", source="automation",
                           occurrence_key=f"{automation_id}:{uuid4().hex}")
    earlier = db.session.scalar(select(func.count()).select_from(AutomationOccurrence)
                                .where(AutomationOccurrence.automation_id == automation_id))
    db.session.add(AutomationOccurrence(automation_id=automation_id, user_id=resident.id,
                                        scheduled_for=NOW + timedelta(days=earlier), status="paid",
                                        payment_id=payment.id))
    db.session.commit()
    return payment


def failures_of(ids: list[int]) -> list[int]:
    db.session.expire_all()
    return [db.session.get(Automation, automation_id).consecutive_failures for automation_id in ids]


def test_resets_of_a_block_are_one_update_that_skips_rows_already_at_zero(resident, account):
    ids = _automations(resident, account, [2, 0, 5])
    paid = [_payment_of(resident, account, automation_id) for automation_id in ids]
    db.session.expunge_all()
    with counted_statements() as seen, bulk_writes.deferred():
        for payment, automation_id in zip(paid, ids, strict=True):
            automation_outcomes.record(payment, ok=True, automation_id=automation_id)
        assert [s for s in seen if s.startswith("UPDATE")] == []
    [update] = [s for s in seen if s.startswith("UPDATE")]
    assert "consecutive_failures !=" in update
    db.session.commit()
    assert failures_of(ids) == [0, 0, 0]


@pytest.mark.parametrize("order", [("ok", "failed"), ("failed", "ok")])
def test_a_success_and_a_failure_of_one_automation_in_a_block_count_as_they_would_one_at_a_time(resident, account,
                                                                                                  order):
    """ok then failed: set back to 0, then 1. failed then ok: 3, then 0."""
    [automation_id] = _automations(resident, account, [2])
    paid = [_payment_of(resident, account, automation_id).id for _ in order]
    db.session.expunge_all()  # nothing of the automation loaded, as in a worker
    paid = [db.session.get(Payment, payment_id) for payment_id in paid]
    with db.session.no_autoflush, bulk_writes.deferred():  # as a batch's outcome transaction runs
        for payment, outcome in zip(paid, order, strict=True):
            automation_outcomes.record(payment, ok=outcome == "ok", automation_id=automation_id)
    db.session.commit()
    assert failures_of([automation_id]) == [1 if order == ("ok", "failed") else 0]
