"""Metrics from real rows over a chosen period: success rate, error recovery rate, provider latency
p50/p95 (``percentile_cont`` on PostgreSQL, the same interpolation on SQLite), volume per utility
type per local day, each beside its target; a bad period is explained and the default used.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from tests import factories
from tests.factories_payments import make_catalogue_entry, make_payment, make_utility_account
from webapp.admin.filter_forms import PeriodForm
from webapp.extensions import db
from webapp.models import PaymentEvent, ProviderCallLog
from webapp.presentation import charts
from webapp.queries import metrics

LAGOS = "Africa/Lagos"
MARCH = metrics.Period(date(2026, 3, 1), date(2026, 3, 31), LAGOS)
IN_MARCH = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def account(resident, estate):
    return make_utility_account(resident, make_catalogue_entry(estate))


@pytest.fixture
def water(resident, estate):
    entry = make_catalogue_entry(estate, name="Lagos Water", provider_type="water", provider_code="lagos-water",
                                 item_code="water", meter_type=None)
    return make_utility_account(resident, entry, number="2222222222", nickname="Tap")


@pytest.fixture
def other_account():
    estate_b = factories.make_estate(name="Cedar Court")
    resident_b = factories.make_user(estate=estate_b)
    return make_utility_account(resident_b, make_catalogue_entry(estate_b), number="7012345678999")


def paid(account, status="succeeded", when=IN_MARCH, amount_kobo=5_000_00, trouble: tuple[str, str] | None = None):
    payment = make_payment(account.user, account, status, amount_kobo=amount_kobo, created_at=when)
    if trouble:
        db.session.add(PaymentEvent(payment_id=payment.id, from_status=trouble[0], to_status=trouble[1],
                                    reason="trouble", actor="worker"))
        db.session.commit()
    return payment


def call(provider: str, latency_ms: int, payment=None, when=IN_MARCH) -> None:
    db.session.add(ProviderCallLog(payment_id=payment.id if payment else None, provider=provider,
                                   operation="purchase", method="POST", url="http://sandbox/x", http_status=200,
                                   latency_ms=latency_ms, created_at=when))
    db.session.commit()


# --- the period ---------------------------------------------------------------------------------

NOW = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # already 1 April in Lagos


def period_of(args: dict) -> tuple[metrics.Period, list[str]]:
    """The period the metrics page shows for these query arguments at ``NOW``, and its messages."""
    form = PeriodForm(MultiDict(args), today=metrics.local_today(LAGOS, NOW))
    form.validate()
    return form.period(LAGOS), form.messages


def test_the_default_period_is_the_last_30_local_days_including_today():
    period, errors = period_of({})
    assert (period.start, period.end, errors) == (date(2026, 3, 3), date(2026, 4, 1), [])
    assert period.since == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert period.until == datetime(2026, 4, 1, 23, 0, tzinfo=UTC)


def test_a_chosen_period_is_used_and_one_end_is_enough():
    assert period_of({"from": "2026-02-01", "to": "2026-02-10"})[0].days[-1] == date(2026, 2, 10)
    only_from = period_of({"from": "2026-03-20"})[0]
    assert (only_from.start, only_from.end) == (date(2026, 3, 20), date(2026, 4, 1))
    only_to = period_of({"to": "2026-02-28"})[0]
    assert (only_to.start, only_to.end) == (date(2026, 1, 30), date(2026, 2, 28))


@pytest.mark.parametrize(("args", "message"), [
    ({"from": "1 March"}, "Enter dates as YYYY-MM-DD"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "The “from” date is after the “to” date"),
    ({"from": "2024-01-01", "to": "2026-03-01"}, "Choose at most 366 days"),
    ({"to": "9999-12-31"}, "“9999-12-31” is out of range for “to”"),
    ({"from": "nope", "to": "2026-13-01"}, "“nope” is not a date for “from”"),
])
def test_a_bad_period_is_explained_and_the_default_used(args, message):
    period, errors = period_of(args)
    assert len(errors) == 1 and message in errors[0]
    assert period == metrics.default_period(LAGOS, date(2026, 4, 1))


# --- the figures --------------------------------------------------------------------------------

def test_success_rate_is_succeeded_over_final_payments_of_the_period_and_estate(account, other_account):
    for status in ["succeeded", "succeeded", "succeeded", "refunded", "failed", "cancelled"]:
        paid(account, status)
    paid(account, "unknown")  # not final yet
    paid(account, "held")
    paid(account, "failed", when=datetime(2026, 2, 28, 22, 59, tzinfo=UTC))  # 23:59 on 28 Feb in Lagos
    paid(other_account, "failed")
    rate = metrics.success_rate(MARCH, [account.user.estate_id])
    assert (rate.hits, rate.total) == (4, 6)
    assert str(rate.percent) == "66.7" and rate.met is False


def test_the_success_target_is_strictly_above_95_percent():
    assert metrics.Rate(19, 20, 95).met is False  # exactly 95 %
    assert metrics.Rate(20, 21, 95).met is True
    assert metrics.Rate(0, 0, 95).met is None and metrics.Rate(0, 0, 95).percent is None


def test_recovery_counts_payments_that_went_unknown_or_retried_and_later_succeeded(account):
    paid(account, "succeeded", trouble=("submitted", "unknown"))
    paid(account, "succeeded", trouble=("submitted", "debited"))  # transient error, resent
    paid(account, "refunded", trouble=("submitted", "unknown"))
    failed_after_unknown = paid(account, "failed", trouble=("submitted", "unknown"))
    paid(account, "unknown", trouble=("submitted", "unknown"))  # still open
    paid(account, "succeeded")  # never in trouble
    paid(account, "failed")
    rate, pending = metrics.recovery_rate(MARCH, [account.user.estate_id])
    assert (rate.hits, rate.total, pending) == (3, 5, 1)
    assert failed_after_unknown.status == "failed"
    assert str(rate.percent) == "60.0" and rate.met is False


def test_provider_latency_percentiles_interpolate_like_percentile_cont(account, other_account):
    payment = paid(account)
    for ms in [700, 100, 1000, 300, 200, 900, 400, 600, 500, 800]:
        call("vtpass", ms, payment)
    call("flutterwave", 3000, payment)
    call("vtpass", 60_000, payment, when=datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # 1 April in Lagos
    call("vtpass", 50_000, paid(other_account))  # another estate's
    call("paystack", 5_000)  # wallet funding: no payment, platform-wide only
    rows = {r.provider: r for r in metrics.provider_latencies(MARCH, [account.user.estate_id])}
    assert set(rows) == {"vtpass", "flutterwave"}
    assert rows["vtpass"].calls == 10
    assert rows["vtpass"].p50_ms == pytest.approx(550.0)
    assert rows["vtpass"].p95_ms == pytest.approx(955.0)
    assert rows["vtpass"].met is True
    assert (rows["flutterwave"].p50_ms, rows["flutterwave"].p95_ms, rows["flutterwave"].met) == (3000.0, 3000.0, False)
    everything = {r.provider: r for r in metrics.provider_latencies(MARCH, None)}
    assert everything["paystack"].calls == 1 and everything["vtpass"].calls == 11


def test_volume_is_summed_per_local_day_and_utility_type(account, water, other_account):
    late_on_the_1st = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 23:30 in Lagos
    early_on_the_2nd = datetime(2026, 3, 1, 23, 10, tzinfo=UTC)  # 00:10 in Lagos
    paid(account, when=late_on_the_1st, amount_kobo=1_000_00)
    paid(account, when=early_on_the_2nd, amount_kobo=2_000_00)
    paid(water, when=early_on_the_2nd, amount_kobo=300_00)
    paid(water, when=early_on_the_2nd, amount_kobo=400_00)
    paid(account, "failed", when=early_on_the_2nd)
    paid(other_account, when=early_on_the_2nd)
    volume = metrics.daily_volume(MARCH, [account.user.estate_id])
    assert len(volume.days) == 31 and volume.types == ["electricity", "water"]
    assert volume.amounts == {(0, "electricity"): 1_000_00, (1, "electricity"): 2_000_00, (1, "water"): 700_00}
    assert volume.counts[(1, "water")] == 2
    chart = charts.volume_chart(volume)
    assert {(b.month, b.utility_type, b.kobo) for b in chart.bars} == {
        (date(2026, 3, 1), "electricity", 1_000_00), (date(2026, 3, 2), "electricity", 2_000_00),
        (date(2026, 3, 2), "water", 700_00)}
    tallest = max(chart.bars, key=lambda b: b.kobo)
    assert tallest.y >= chart.ticks[-1].y and tallest.y + tallest.height <= chart.baseline


# --- the page -----------------------------------------------------------------------------------

def test_a_resident_gets_404_on_the_metrics_page(client, auth, resident):
    auth.login(resident.email)
    assert client.get("/admin/metrics/").status_code == 404


def test_the_page_shows_each_figure_beside_its_target_with_a_badge(client, auth, estate_admin, account):
    for _ in range(20):
        paid(account)
    unknown_then_ok = paid(account, trouble=("submitted", "unknown"))
    call("vtpass", 2500, unknown_then_ok)
    auth.login(estate_admin.email)
    html = client.get("/admin/metrics/?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    success = re.search(r'<tr id="metric-success">.*?</tr>', html, re.S).group(0)
    assert "100.0%" in success and "&gt; 95%" in success and "target met" in success
    assert "21 succeeded of 21 finished payments" in success
    recovery = re.search(r'<tr id="metric-recovery">.*?</tr>', html, re.S).group(0)
    assert "100.0%" in recovery and "target met" in recovery
    latency = re.search(r'<tr id="metric-latency">.*?</tr>', html, re.S).group(0)
    assert "2500 ms worst" in latency and "target not met" in latency
    assert re.search(r'<rect [^>]*data-day="2026-03-10" data-type="electricity" data-kobo="10500000"', html)
    assert "Payments created from 2026-03-01 to 2026-03-31 (31 days, Africa/Lagos)" in html


def test_the_page_without_data_says_so_instead_of_failing_targets(client, auth, estate_admin):
    auth.login(estate_admin.email)
    html = client.get("/admin/metrics/").get_data(as_text=True)
    assert html.count("no data") == 3
    assert "No provider calls in this period." in html and 'id="volume-empty"' in html


def test_bad_dates_on_the_page_show_a_message_and_the_last_30_days(client, auth, estate_admin):
    auth.login(estate_admin.email)
    html = client.get("/admin/metrics/?from=2026-13-01").get_data(as_text=True)
    assert "Enter dates as YYYY-MM-DD. Showing the last 30 days instead." in html
    assert "(30 days," in html
    assert '<input id="from" name="from" type="date" value="2026-13-01">' in html  # kept as typed


def test_the_number_of_queries_does_not_grow_with_the_number_of_payments(client, auth, estate_admin, account):
    auth.login(estate_admin.email)
    url = "/admin/metrics/?from=2026-03-01&to=2026-03-31"

    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    for i in range(3):
        call("vtpass", 100 + i, paid(account, when=IN_MARCH + timedelta(days=i)))
    few = statements()
    for i in range(40):
        call("vtpass", 200 + i, paid(account, "failed" if i % 3 else "succeeded", when=IN_MARCH + timedelta(hours=i)))
    assert statements() == few
