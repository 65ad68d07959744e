"""A status call that gets no answer (timeout, 5xx) is not a check: it is asked again within
seconds, the requery backoff moves only on an answer, and an hour without any answer alerts the
estate's admins once and tells the resident what is happening. Real RQ, Redis and sandbox HTTP."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import AdminAlert, Notification
from webapp.models.base import utcnow
from webapp.models.payment import ProviderCallLog
from webapp.services import ledger, payments, policy
from webapp.services.payments import jobs

from .helpers import link, pay, prepaid_entry, reload, run_worker
from .test_lifecycle_sandbox import processed

NUMBER = "12345678901"  # plain success: the sandbox's fault injector may touch it


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}


@pytest.fixture
def provider_down(sandbox):
    """Every purchase and status call of the sandbox answers 503 until the test turns it back on."""
    sandbox.configure(fault_rate=1.0, fault_kinds=["unavailable"])
    yield sandbox
    sandbox.configure(fault_rate=0.0)


def unknown_payment(funded, estate, api_provider):
    """A purchase the provider answered with a 503: it may have been processed, so unknown."""
    payment = pay(funded, link(funded, prepaid_entry(estate.id, api_provider), NUMBER))
    run_worker()
    payment = reload(payment)
    assert payment.status == "unknown" and payment.no_answer_since is not None
    return payment


def provider_calls(payment) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ProviderCallLog)
                             .where(ProviderCallLog.payment_id == payment.id))


def scheduled_requeries() -> list[str]:
    return [job_id for job_id in ScheduledJobRegistry(queue=queue(PAYMENTS)).get_job_ids()
            if job_id.startswith("requery-")]


# VTpass: its status call (POST requery) is what the sandbox's faults hit. A Flutterwave payment
# with no tx_ref yet is looked up in the bill listing, which the fault injector leaves alone.
def test_a_status_call_without_an_answer_is_not_a_check_and_is_asked_again_within_seconds(
        funded, estate, provider_down):
    payment = unknown_payment(funded, estate, "vtpass")
    now = payment.next_check_at
    for failures in (1, 2, 3):
        payments.run_janitor(now)
        payment = reload(payment)
        assert payment.status == "unknown"
        assert (payment.status_checks, payment.status_call_failures) == (0, failures), "no answer is not a check"
        ceiling = policy.NO_ANSWER_RETRY_BASE_SECONDS * 2 ** (failures - 1)
        assert timedelta(seconds=ceiling / 2) <= payment.next_check_at - now <= timedelta(seconds=ceiling)
        assert f"requery-{payment.id}-{payment.next_check_at:%Y%m%dT%H%M%S}" in scheduled_requeries()
        now = payment.next_check_at

    provider_down.configure(fault_rate=0.0)  # the provider answers again
    payments.run_janitor(now)
    payment = reload(payment)
    assert payment.status == "succeeded"
    assert (payment.status_call_failures, payment.no_answer_since) == (0, None)
    assert processed(provider_down, payment) == 1
    assert ledger.check_invariants() == []


def test_a_provider_that_answers_pending_is_answering_no_alert_and_the_backoff_moves(funded, estate):
    """2010000000000: the purchase and the first status query say pending, the second succeeds."""
    payment = pay(funded, link(funded, prepaid_entry(estate.id, "vtpass"), "2010000000000"))
    run_worker()
    payment = reload(payment)
    assert payment.status == "unknown" and payment.no_answer_since is None, "pending is an answer"
    now = payment.submitted_at + timedelta(minutes=61)
    payments.run_janitor(now)
    payment = reload(payment)
    assert (payment.status, payment.status_checks, payment.status_call_failures) == ("unknown", 1, 0)
    assert payment.next_check_at == now + policy.requery_delay(0), "an answer moves along the backoff"
    assert db.session.scalars(select(AdminAlert).where(AdminAlert.payment_id == payment.id)).all() == []
    assert scheduled_requeries() == []


def test_the_scheduled_requery_asks_once_when_due_and_skips_when_the_janitor_asked_first(funded, estate,
                                                                                        provider_down):
    payment = unknown_payment(funded, estate, "vtpass")
    payments.run_janitor(payment.next_check_at)
    payment = reload(payment)
    due, calls_before = payment.next_check_at, provider_calls(payment)
    if due > utcnow():  # the job ran early (a clock between machines): it asks nothing
        assert jobs.requery_payment(payment.id) == "done"
        assert (reload(payment).status_call_failures, provider_calls(payment)) == (1, calls_before)
    provider_down.configure(fault_rate=0.0)
    payments.run_janitor(due)  # the janitor gets there first
    assert reload(payment).status == "succeeded"
    calls_after = provider_calls(payment)
    assert jobs.requery_payment(payment.id) == "done"
    assert (reload(payment).status, provider_calls(payment)) == ("succeeded", calls_after), "asked once, not twice"


def test_an_hour_without_an_answer_alerts_the_admins_and_tells_the_resident_once(funded, estate, provider_down):
    payment = unknown_payment(funded, estate, "vtpass")
    start = payment.no_answer_since
    for minutes in (1, 30, 59):
        payments.run_janitor(start + timedelta(minutes=minutes))
    assert db.session.scalars(select(AdminAlert).where(AdminAlert.payment_id == payment.id)).all() == []
    for minutes in (61, 62, 90):
        payments.run_janitor(start + timedelta(minutes=minutes))
    db.session.rollback()
    [alert] = db.session.scalars(select(AdminAlert).where(AdminAlert.payment_id == payment.id)).all()
    assert alert.kind == "payment_no_answer" and "has not answered" in alert.message
    assert alert.details["reference"] == payment.reference
    [told] = db.session.scalars(select(Notification).where(
        Notification.dedup_key == f"payment:{payment.reference}:no-answer")).all()
    assert told.user_id == funded.id and "never be charged twice" in told.body
    payment = reload(payment)
    assert payment.status == "unknown" and payment.no_answer_alerted_at is not None
    assert payment.alerted_at is None, "the day-long alert is a separate one, still to come if it stays unresolved"


def test_one_pass_settles_a_pile_of_unknown_payments_each_bought_once(funded, estate, provider_down):
    """The janitor asks about its due unknown payments concurrently, each in a session of its own:
    all of them settle in one pass, none is bought twice, the ledger balances."""
    account = link(funded, prepaid_entry(estate.id, "vtpass"), NUMBER)
    pile = [pay(funded, account, key=f"pile-{n}") for n in range(6)]
    run_worker()
    pile = [reload(payment) for payment in pile]
    assert {payment.status for payment in pile} == {"unknown"}
    provider_down.configure(fault_rate=0.0)
    report = payments.run_janitor(max(payment.next_check_at for payment in pile))
    assert (report.requeried, report.errors) == (6, [])
    assert [reload(payment).status for payment in pile] == ["succeeded"] * 6
    assert [processed(provider_down, payment) for payment in pile] == [1] * 6
    assert ledger.check_invariants() == []


def test_the_first_check_after_a_resend_comes_at_the_first_step_of_the_backoff(app, resident, estate):
    """A resend (the provider had no record of the first attempt) is a purchase as new as the
    first: its first check is due a minute on, not at the step the earlier attempt's checks reached."""
    from tests.factories_payments import make_catalogue_entry, make_payment, make_utility_account
    from webapp.providers.base import PurchaseResult
    from webapp.services.payments import lifecycle

    account = make_utility_account(resident, make_catalogue_entry(estate))
    payment = make_payment(resident, account, status="submitted", status_checks=3, purchase_attempts=2)
    before = utcnow()
    lifecycle.record_result(payment, PurchaseResult(reference=payment.reference, status="pending"), [],
                            source="purchase")
    db.session.commit()
    payment = reload(payment)
    assert payment.status == "unknown" and payment.status_checks == 3
    assert before + policy.requery_delay(0) <= payment.next_check_at <= utcnow() + policy.requery_delay(0)
