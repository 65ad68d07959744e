"""Daily reconciliation with each bills provider, against the real sandbox over HTTP.

Payments go through the real worker; the sandbox's ``disagree`` knob then makes the provider's record
differ from ours in each way reconciliation must find. Payments are dated today, so today's Lagos
day is the one reconciled.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from webapp.extensions import db
from webapp.jobs import use_app
from webapp.models import AdminAlert, ProviderCallLog, ReconciliationMismatch, ReconciliationRun
from webapp.providers import registry
from webapp.providers.vtpass_codes import lagos_now
from webapp.services import reconciliation
from webapp.services.reconciliation import runs
from workers import payment_jobs
from workers.schedule import PERIODIC_JOBS

from .payments.helpers import PROVIDERS, link, pay, prepaid_entry, reload, run_worker


@pytest.fixture
def config_overrides(sandbox_config):
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": []}

BLOCKED = "5000000000000"  # the sandbox fails it ("Meter blocked") and keeps a failed record
GOOD = "1111111111111"


@pytest.fixture
def today() -> date:
    return lagos_now().date()


def make_payments(user, estate, api_provider, amounts=(5_000_00, 7_000_00, 3_000_00), failed=1):
    """Succeeded payments of ``amounts`` and ``failed`` blocked (failed, refunded) ones, all final."""
    entry = prepaid_entry(estate.id, api_provider)
    good = link(user, entry, GOOD)
    made = [pay(user, good, amount, key=f"ok-{i}") for i, amount in enumerate(amounts)]
    if failed:
        blocked = link(user, entry, BLOCKED, nickname="Blocked")
        made += [pay(user, blocked, 4_000_00, key=f"blocked-{i}") for i in range(failed)]
    run_worker()
    made = [reload(p) for p in made]
    assert [p.status for p in made] == ["succeeded"] * len(amounts) + ["failed"] * failed
    return made


def counts() -> tuple[int, int, int]:
    db.session.rollback()
    return (db.session.scalar(select(func.count(ReconciliationRun.id))),
            db.session.scalar(select(func.count(ReconciliationMismatch.id))),
            db.session.scalar(select(func.count(AdminAlert.id))))


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


# --- a clean day ---------------------------------------------------------------------------------

@pytest.mark.parametrize("api_provider", PROVIDERS)
def test_a_clean_day_has_no_mismatches_and_equal_sides(funded, estate, api_provider, today, client, auth,
                                                       estate_admin):
    made = make_payments(funded, estate, api_provider)
    run = reconciliation.reconcile(api_provider, today)
    assert run.mismatch_count == 0
    assert (run.ours_count, run.ours_kobo) == (3, 15_000_00)  # the failed one is on neither side
    assert (run.theirs_count, run.theirs_kobo) == (run.ours_count, run.ours_kobo)
    assert run.by_estate == {str(estate.id): {"ours_count": 3, "ours_kobo": 15_000_00, "theirs_count": 3,
                                              "theirs_kobo": 15_000_00, "mismatches": 0, "unsettled": 0}}
    assert counts() == (1, 0, 0)
    # Every provider call it made is in the call log: Flutterwave's listing (no one payment's), or
    # one VTpass requery per payment, on that payment's story.
    logged = db.session.execute(select(ProviderCallLog.operation, ProviderCallLog.payment_id).where(
        ProviderCallLog.operation.in_(["listing", "status"]))).all()
    if api_provider == "flutterwave":
        assert [op for op, _ in logged] == ["listing"] and logged[0][1] is None
    else:
        assert sorted(pid for _, pid in logged) == sorted(p.id for p in made)
    auth.login(estate_admin.email)
    row = client.get("/admin/reconciliation/").get_data(as_text=True)
    assert f'id="run-{run.id}"' in row and "₦15,000.00" in row
    detail = client.get(f"/admin/reconciliation/{run.id}").get_data(as_text=True)
    assert 'id="mismatches-empty"' in detail
    assert csv_rows(client.get(f"/admin/reconciliation/{run.id}.csv")) == []


# --- each disagreement ---------------------------------------------------------------------------

@pytest.mark.parametrize("api_provider", PROVIDERS)
def test_each_injected_disagreement_is_found_alerted_once_and_exported(funded, estate, api_provider, today, sandbox,
                                                                       client, auth, estate_admin, runner):
    missing, changed, clean, refunded = make_payments(funded, estate, api_provider, amounts=(5_000_00, 7_000_00,
                                                                                             3_000_00))
    sandbox.disagree(api_provider, missing.reference, "missing")
    sandbox.disagree(api_provider, changed.reference, "amount", amount_kobo=7_100_00)
    sandbox.disagree(api_provider, refunded.reference, "succeeded")

    run = reconciliation.reconcile(api_provider, today)
    found = {m.kind: m for m in db.session.scalars(select(ReconciliationMismatch))}
    assert set(found) == {"no_provider_record", "amount_differs", "provider_succeeded_we_refunded"}
    assert run.mismatch_count == 3 and run.by_estate[str(estate.id)]["mismatches"] == 3
    lost, gone, amount = (found["provider_succeeded_we_refunded"], found["no_provider_record"],
                          found["amount_differs"])
    assert (lost.payment_id, lost.our_status, lost.provider_status) == (refunded.id, "failed", "succeeded")
    assert (gone.payment_id, gone.our_status, gone.provider_status) == (missing.id, "succeeded", "not_found")
    assert (amount.payment_id, amount.our_amount_kobo, amount.provider_amount_kobo) == (changed.id, 7_000_00,
                                                                                        7_100_00)
    assert all(m.estate_id == estate.id for m in found.values())
    # Ours: the three succeeded; theirs: the provider's successes (one missing, one changed, one lost).
    assert (run.ours_count, run.ours_kobo) == (3, 15_000_00)
    assert (run.theirs_count, run.theirs_kobo) == (3, 7_100_00 + 3_000_00 + 4_000_00)

    alerts = list(db.session.scalars(select(AdminAlert).order_by(AdminAlert.id)))
    assert len(alerts) == 3
    assert {a.payment_id for a in alerts} == {missing.id, changed.id, refunded.id}
    assert all(a.estate_id == estate.id and a.kind == "reconciliation" and len(a.message) <= 255 for a in alerts)
    assert {a.details["mismatch"] for a in alerts} == set(found)
    assert clean.id not in {a.payment_id for a in alerts}

    # Rerunning the day, through the service and the command, adds nothing.
    before = counts()
    assert reconciliation.reconcile(api_provider, today).id == run.id
    result = runner.invoke(args=["payments", "reconcile", "--date", today.isoformat(), "--provider", api_provider])
    assert result.exit_code == 0, result.output
    assert "3 mismatches" in result.output and api_provider in result.output
    assert counts() == before == (1, 3, 3)

    auth.login(estate_admin.email)
    listing = client.get("/admin/reconciliation/").get_data(as_text=True)
    assert f'id="run-{run.id}"' in listing and "₦15,000.00" in listing and "₦14,100.00" in listing
    page = client.get(f"/admin/reconciliation/{run.id}").get_data(as_text=True)
    for payment in (missing, changed, refunded):
        assert f'data-reference="{payment.reference}"' in page
    assert clean.reference not in page
    assert "₦7,100.00" in page and "Provider succeeded, we refunded" in page

    rows = {r["Our reference"]: r for r in csv_rows(client.get(f"/admin/reconciliation/{run.id}.csv"))}
    assert set(rows) == {missing.reference, changed.reference, refunded.reference}
    assert rows[changed.reference]["Our amount (NGN)"] == "7000.00"
    assert rows[changed.reference]["Provider amount (NGN)"] == "7100.00"
    assert rows[changed.reference]["Provider amount (kobo)"] == "710000"
    assert rows[refunded.reference]["Our state"] == "failed"
    assert rows[refunded.reference]["Provider state"] == "succeeded"
    assert rows[missing.reference]["Kind"] == "no_provider_record"
    ref_kind = "tx_ref=" if api_provider == "flutterwave" else "transaction_id="
    assert ref_kind in rows[changed.reference]["Provider references"]


@pytest.mark.parametrize("api_provider", PROVIDERS)
def test_a_provider_failure_of_a_bill_we_count_as_paid_is_no_provider_record(funded, estate, api_provider, today,
                                                                              sandbox):
    [paid] = make_payments(funded, estate, api_provider, amounts=(5_000_00,), failed=0)
    sandbox.disagree(api_provider, paid.reference, "failed")
    run = reconciliation.reconcile(api_provider, today)
    [mismatch] = db.session.scalars(select(ReconciliationMismatch)).all()
    assert (mismatch.kind, mismatch.provider_status, run.theirs_count) == ("no_provider_record", "failed", 0)


# --- who sees what -------------------------------------------------------------------------------

def test_an_admin_of_another_estate_sees_none_of_it_and_a_platform_admin_sees_all(funded, estate, today, sandbox,
                                                                                 client, auth):
    paid, refunded = make_payments(funded, estate, "flutterwave", amounts=(5_000_00,))
    sandbox.disagree("flutterwave", refunded.reference, "succeeded")
    # A bill bought at Flutterwave outside this app: on the provider's side only.
    item = prepaid_entry(estate.id, "flutterwave")
    registry.utility_service("flutterwave", client.application.config).purchase_utility(
        item, GOOD, 2_000_00, "STRANGER-0001")
    run = reconciliation.reconcile("flutterwave", today)
    stranger = db.session.scalar(select(ReconciliationMismatch).where(ReconciliationMismatch.kind == "unknown_to_us"))
    assert stranger.reference == "STRANGER-0001" and stranger.estate_id is None and stranger.payment_id is None
    assert stranger.provider_amount_kobo == 2_000_00 and "tx_ref=" in stranger.provider_refs
    assert run.mismatch_count == 2 and run.theirs_count == 3  # paid, the one we refunded, the stranger's
    assert db.session.scalar(select(func.count(AdminAlert.id))) == 1  # an alert needs an estate
    # The next day's listing overlaps this one: the stranger's bill is not reported twice.
    assert reconciliation.reconcile("flutterwave", today + timedelta(days=1)).mismatch_count == 0

    other = factories.make_estate(name="Cedar Court")
    other_admin = factories.make_user(estate=other, email="admin-b@example.com", role="estate_admin")
    auth.login(other_admin.email)
    row = client.get("/admin/reconciliation/").get_data(as_text=True)
    assert f'id="run-{run.id}"' in row and "₦5,000.00" not in row  # the run exists; their estate had nothing
    page = client.get(f"/admin/reconciliation/{run.id}").get_data(as_text=True)
    assert refunded.reference not in page and "STRANGER-0001" not in page and 'id="mismatches-empty"' in page
    assert csv_rows(client.get(f"/admin/reconciliation/{run.id}.csv")) == []
    auth.logout()

    boss = factories.make_user(email="root@example.com", role="platform_admin")
    auth.login(boss.email)
    page = client.get(f"/admin/reconciliation/{run.id}").get_data(as_text=True)
    assert refunded.reference in page and "STRANGER-0001" in page and "Unknown to us" in page
    rows = csv_rows(client.get(f"/admin/reconciliation/{run.id}.csv"))
    assert {r["Our reference"] for r in rows} == {refunded.reference, "STRANGER-0001"}
    assert {r["Estate"] for r in rows} == {estate.name, ""}


def test_bad_ids_are_404_and_residents_are_kept_out(app, client, auth, estate_admin, resident):
    auth.login(estate_admin.email)
    for path in ["/admin/reconciliation/abc", "/admin/reconciliation/0", "/admin/reconciliation/99",
                 "/admin/reconciliation/-1", "/admin/reconciliation/99999999999999999999",
                 "/admin/reconciliation/99999999999999999999.csv", "/admin/reconciliation/7.csv",
                 "/admin/reconciliation/1x.csv"]:
        assert client.get(path).status_code == 404, path
    assert client.get("/admin/reconciliation/?page=abc").status_code == 200
    assert client.get("/admin/reconciliation/?page=-4").status_code == 200
    auth.logout()
    auth.login(resident.email)
    assert client.get("/admin/reconciliation/").status_code == 404


# --- what is not a mismatch ----------------------------------------------------------------------

def test_a_summary_only_listing_asks_per_purchase_and_a_missing_bill_stays_unsettled(funded, estate, today,
                                                                                     sandbox):
    missing, changed = make_payments(funded, estate, "flutterwave", amounts=(5_000_00, 6_000_00), failed=0)
    sandbox.configure(flw_listing_items=False)  # the published sample's shape: no per-bill rows
    sandbox.disagree("flutterwave", missing.reference, "missing")
    sandbox.disagree("flutterwave", changed.reference, "amount")
    run = reconciliation.reconcile("flutterwave", today)
    [mismatch] = db.session.scalars(select(ReconciliationMismatch)).all()
    assert (mismatch.kind, mismatch.reference, mismatch.provider_amount_kobo) == ("amount_differs",
                                                                                  changed.reference, 6_100_00)
    # Without per-bill rows no answer for the missing one is authoritative: unsettled, not alarmed.
    assert reconciliation.unsettled(run) == 1 and run.mismatch_count == 1


@pytest.mark.parametrize("api_provider", PROVIDERS)
def test_a_payment_still_unknown_is_unsettled_not_a_mismatch(funded, estate, api_provider, today):
    account = link(funded, prepaid_entry(estate.id, api_provider), "2010000000000")  # pending at first
    payment = pay(funded, account)
    run_worker()
    assert reload(payment).status == "unknown"
    run = reconciliation.reconcile(api_provider, today)
    assert run.mismatch_count == 0 and reconciliation.unsettled(run) == 1
    assert counts()[2] == 0


def test_a_provider_error_writes_nothing_so_the_day_can_be_run_again(funded, estate, today, sandbox):
    make_payments(funded, estate, "vtpass", amounts=(5_000_00,), failed=0)
    sandbox.configure(fault_rate=1.0, fault_kinds=["unavailable"])
    with pytest.raises(reconciliation.ReconciliationError):
        reconciliation.reconcile("vtpass", today)
    assert counts() == (0, 0, 0)
    assert db.session.scalar(select(func.count(ProviderCallLog.id)).where(ProviderCallLog.operation == "status"))
    sandbox.configure(fault_rate=0.0)
    assert reconciliation.reconcile("vtpass", today).ours_count == 1


def test_two_runs_of_one_day_leave_one(funded, estate, today, monkeypatch):
    """A run that finds another already written while it asked the provider returns that one."""
    make_payments(funded, estate, "vtpass", amounts=(5_000_00,), failed=0)
    real_ask = runs._ask
    first: list = []

    def ask_then_race(*args):
        result = real_ask(*args)
        if not first:
            first.append(None)
            first[0] = reconciliation.reconcile("vtpass", today)  # finishes while we were asking
        return result

    monkeypatch.setattr(runs, "_ask", ask_then_race)
    run = reconciliation.reconcile("vtpass", today)
    assert run.id == first[0].id
    assert counts()[0] == 1


# --- the command and the nightly job ---------------------------------------------------------------

def test_the_command_rejects_a_bad_date(runner):
    for bad in ["2024-13-45", "yesterday", "01/02/2024"]:
        result = runner.invoke(args=["payments", "reconcile", "--date", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "Invalid value for '--date'" in result.output
    assert runner.invoke(args=["payments", "reconcile", "--provider", "paystack"]).exit_code == 2
    assert counts() == (0, 0, 0)


def test_the_command_reconciles_every_provider_and_a_rerun_adds_nothing(funded, estate, today, runner):
    make_payments(funded, estate, "vtpass", amounts=(5_000_00,), failed=0)
    first = runner.invoke(args=["payments", "reconcile", "--date", today.isoformat()])
    assert first.exit_code == 0, first.output
    lines = first.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["flutterwave", "vtpass"]
    assert "ours 1 (₦5,000.00), theirs 1 (₦5,000.00), 0 mismatches" in lines[1]
    again = runner.invoke(args=["payments", "reconcile", "--date", today.isoformat()])
    assert again.output == first.output
    assert counts() == (2, 0, 0)


def test_previous_lagos_day_follows_lagos_midnight():
    assert reconciliation.previous_lagos_day(datetime(2024, 3, 1, 22, 59, tzinfo=UTC)) == date(2024, 2, 29)
    assert reconciliation.previous_lagos_day(datetime(2024, 3, 1, 23, 0, tzinfo=UTC)) == date(2024, 3, 1)


def test_the_nightly_job_reconciles_yesterday_at_0230_lagos(app, sandbox):
    [job] = [j for j in PERIODIC_JOBS if j.name == "payments-reconcile"]
    assert job.func is payment_jobs.reconcile_yesterday and job.cron == "30 1 * * *"
    use_app(app)
    assert "0 mismatches" in payment_jobs.reconcile_yesterday()
    db.session.rollback()
    yesterday = reconciliation.previous_lagos_day()
    assert sorted(r.api_provider for r in db.session.scalars(select(ReconciliationRun))) == list(PROVIDERS)
    assert {r.day for r in db.session.scalars(select(ReconciliationRun))} == {yesterday}
