"""Fraud rules hold the sweep's payments as they hold one-time ones: judged in the order they are
created, each counting the ones before it, for a chunk of residents at once."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import Notification, Payment
from webapp.services import automations, ledger

from ..factories import make_user
from ..factories_automations import make_automation
from ..factories_payments import make_catalogue_entry, make_payment, make_utility_account

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def rules(**thresholds):
    """Parametrise ``config_overrides`` with these FRAUD_* settings for one test."""
    return pytest.mark.parametrize("config_overrides", [{f"FRAUD_{k.upper()}": v for k, v in thresholds.items()}],
                                   indirect=True, ids=[",".join(f"{k}={v}" for k, v in thresholds.items())])


@pytest.fixture
def config_overrides(request):
    return getattr(request, "param", {})


@pytest.fixture
def entry(estate):
    return make_catalogue_entry(estate)


def funded_resident(estate, entry, meters: int):
    user = make_user(estate=estate)
    ledger.credit_funding(user.id, 100_000_00, "paystack", f"fund-{user.id}")
    db.session.commit()
    return user, [make_utility_account(user, entry, number=f"5{user.id:04d}{k:08d}") for k in range(meters)]


def statuses(user) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(Payment.status).where(Payment.user_id == user.id).order_by(Payment.id)))


def queued_payment_ids() -> set[int]:
    ids = set()
    for job in queue(PAYMENTS).get_jobs():
        (first,) = job.args
        ids.update(first if isinstance(first, list) else [first])
    return ids


@rules(resident_purchases_per_hour=3)
def test_the_sweep_holds_a_residents_third_purchase_within_the_hour_and_those_after_it(estate, entry):
    busy, meters = funded_resident(estate, entry, 4)
    for meter in meters:
        make_automation(busy, meter, first_run=NOW, amount_kobo=1_000_00)
    calm, (meter,) = funded_resident(estate, entry, 1)  # swept in the same chunk: its own count
    make_automation(calm, meter, first_run=NOW, amount_kobo=1_000_00)

    report = automations.run_sweep(NOW)

    assert statuses(busy) == ["created", "created", "held", "held"]
    assert statuses(calm) == ["created"]
    assert report.payments == 5
    held = set(db.session.scalars(select(Payment.id).where(Payment.status == "held")))
    assert held and not held & queued_payment_ids()  # held payments wait for an admin, not a worker
    assert len(queued_payment_ids()) == 3
    reasons = set(db.session.scalars(select(Payment.status_reason).where(Payment.status == "held")))
    assert reasons == {"Held for review: 3 purchases by one resident within an hour"}
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == busy.id, Notification.event == "payment_held")) == 2


@rules(amount_factor=5, amount_min_history=3)
def test_the_sweep_holds_an_amount_far_above_the_residents_usual(estate, entry):
    usual, (meter,) = funded_resident(estate, entry, 1)
    for _ in range(3):
        make_payment(usual, meter, amount_kobo=1_000_00)  # succeeded
    make_automation(usual, meter, first_run=NOW, amount_kobo=5_000_00)
    newcomer, (meter,) = funded_resident(estate, entry, 1)  # no history to compare against
    make_automation(newcomer, meter, first_run=NOW, amount_kobo=5_000_00)

    automations.run_sweep(NOW)

    assert statuses(usual)[-1] == "held"
    assert statuses(newcomer) == ["created"]
