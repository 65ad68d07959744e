"""What autopay did: a month of a resident's automation runs as the real sweep (and the real worker,
against the sandbox) left them, each with its reason; the month filter; pagination; other residents;
and the monthly summary sent on the 1st, once.

The clock is moved to 1 March 2027, 09:00 in Lagos, for the sweep and the worker, and the sandbox's
clock with it (VTpass refuses a request_id not dated its own "today").
"""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import EmailMessage, Notification, Payment, SavedCard
from webapp.services import automations, ledger, notify
from webapp.services.automations import crud
from workers import automation_jobs
from workers.schedule import PERIODIC_JOBS

from .factories import make_user
from .factories_automations import make_automation, make_estate_bill, save_settings
from .factories_payments import make_catalogue_entry, make_payment, make_utility_account
from .payments.helpers import run_worker

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # 09:00 in Lagos on the 1st


@pytest.fixture
def config_overrides(sandbox_config):
    # The amount rule on (the suite turns fraud rules off): 5× the usual amount is held for review.
    return {**sandbox_config, "PAYMENT_RQ_RETRY_INTERVALS": [], "FRAUD_AMOUNT_FACTOR": 5, "FRAUD_AMOUNT_MIN_HISTORY": 3}


@pytest.fixture
def clock(sandbox):
    """Our clock at ``NOW`` (ticking) and the sandbox's with it; ``clock.move_to(t)`` moves both."""
    real_now = datetime.now(UTC)

    class Clock:
        def __init__(self):
            self.traveller = time_machine.travel(NOW, tick=True)

        def move_to(self, when: datetime, tick: bool = True) -> None:
            self.traveller.stop()
            self.traveller = time_machine.travel(when, tick=tick)
            self.traveller.start()
            sandbox.configure(clock_offset_seconds=(when - real_now).total_seconds())

    clock = Clock()
    clock.traveller.start()
    sandbox.configure(clock_offset_seconds=(NOW - real_now).total_seconds())
    yield clock
    clock.traveller.stop()


@pytest.fixture
def electricity(app, sandbox, estate):
    return make_catalogue_entry(estate)  # VTpass, ₦500 to ₦500,000, fee ₦100


def fund(user, kobo, ref="fund"):
    ledger.credit_funding(user.id, kobo, "paystack", f"{ref}-{user.id}-{kobo}")
    db.session.commit()


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def rows_of(page: str) -> list[str]:
    """The activity table's rows as plain text, newest first."""
    body = page.split('<tbody>', 1)[1].split('</tbody>', 1)[0] if "<tbody>" in page else ""
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in body.split("</tr>") if row.strip()]


def total(page: str, name: str) -> str:
    match = re.search(rf'id="total-{name}">([^<]*)<', page)
    return match.group(1) if match else ""


@pytest.fixture
def march(clock, estate, resident, electricity, water):
    """Every way the 1 March sweep can end a run of the resident's automations, then the worker."""
    fund(resident, 50_000_00)
    save_settings(resident, water_cap_kobo=1_000_00)
    home = make_utility_account(resident, electricity, nickname="Home meter")
    blocked = make_utility_account(resident, electricity, number="5000000000000", nickname="Blocked meter")
    shop = make_utility_account(resident, electricity, number="4509000000011", nickname="Shop meter")
    for days in (20, 15, 10):  # the usual electricity purchase is ₦2,000: ₦20,000 is held for review
        make_payment(resident, shop, amount_kobo=2_000_00, created_at=NOW - timedelta(days=days))
    garden = make_utility_account(resident, electricity, number="4509000000012", nickname="Garden meter")
    tap = make_utility_account(resident, water, number="4509000000013", nickname="Borehole")
    boys_quarters = make_utility_account(resident, electricity, number="4509000000014", nickname="BQ meter")
    make_estate_bill(resident, amount_kobo=3_000_00)
    made = {
        "paid": make_automation(resident, home, first_run=NOW, amount_kobo=5_000_00),
        "failed": make_automation(resident, blocked, first_run=NOW, amount_kobo=1_000_00),
        "held": make_automation(resident, shop, first_run=NOW, amount_kobo=20_000_00),
        "per_payment": make_automation(resident, garden, first_run=NOW, amount_kobo=3_000_00,
                                       max_per_payment_kobo=2_000_00),
        "water_cap": make_automation(resident, tap, first_run=NOW, amount_kobo=2_000_00),
        "asked_to_skip": make_automation(resident, boys_quarters, first_run=NOW, skip_next=True),
        "estate_bill": make_automation(resident, None, first_run=NOW, amount_mode="full_outstanding",
                                       amount_kobo=None, bill_type="service_charge"),
    }
    automations.run_sweep(NOW)
    run_worker()
    return made


def test_the_owner_sees_every_run_of_the_month_with_its_reason_and_the_totals(march, as_resident, client):
    page = text_of(client.get("/automations/activity"))
    rows = rows_of(page)
    assert len(rows) == 7

    def row(label: str) -> str:
        [found] = [r for r in rows if r.startswith(label)]
        return found

    assert "₦5,000.00" in row("Home meter") and "Paid" in row("Home meter")
    assert "Not paid" in row("Blocked meter")
    assert "Held for review" in row("Shop meter") and "Held for review:" in row("Shop meter")
    assert "It was more than the ₦2,000 per-payment limit you set" in row("Garden meter")
    assert "Limit reached" in row("Garden meter")
    assert "Your ₦1,000 monthly cap for water was reached" in row("Borehole")
    assert "Skipped at your request" in row("BQ meter")
    assert "Paid" in row("Service charge bill") and "₦3,000.00" in row("Service charge bill")
    assert (total(page, "paid"), total(page, "made"), total(page, "held"), total(page, "skipped"),
            total(page, "failed")) == ("₦8,000.00", "4", "1", "3", "1")
    assert "March 2027" in page


def test_each_payment_links_to_its_detail_and_a_skipped_run_links_nowhere(march, as_resident, client, resident):
    page = text_of(client.get("/automations/activity?month=2027-03"))
    made = db.session.scalars(select(Payment.id).where(Payment.source == "automation")).all()
    assert len(made) == 4
    for payment_id in made:
        assert f'href="/payments/{payment_id}"' in page
    assert "/payments/" not in next(r for r in page.split("</tr>") if "BQ meter" in r)


def test_another_resident_sees_none_of_it(march, auth, client, other_resident):
    auth.login(other_resident.email)
    page = text_of(client.get("/automations/activity?month=2027-03"))
    assert rows_of(page) == []
    assert "Home meter" not in page and "Shop meter" not in page
    assert (total(page, "paid"), total(page, "made"), total(page, "held"), total(page, "skipped")) == (
        "₦0.00", "0", "0", "0")
    assert "Autopay did nothing for you in March 2027" in page


def test_another_month_shows_only_that_month(march, as_resident, client):
    page = text_of(client.get("/automations/activity?month=2027-02"))
    assert rows_of(page) == [] and "February 2027" in page
    assert 'value="2027-02"' in page


@pytest.mark.parametrize("typed", ["2027-13", "March", "2027-3", "1999-12", "3000-01", "2027-03-01", "x" * 500])
def test_a_month_it_cannot_use_is_said_kept_in_the_box_and_this_month_shown(march, as_resident, client, typed):
    response = client.get("/automations/activity", query_string={"month": typed})
    page = text_of(response)
    assert "Showing this month instead." in page
    assert "March 2027" in page and len(rows_of(page)) == 7  # the clock says March
    assert f'value="{typed[:100]}"' in page


def test_htmx_gets_the_results_alone(march, as_resident, client):
    page = text_of(client.get("/automations/activity?month=2027-03", headers={"HX-Request": "true"}))
    assert "<html" not in page and 'id="activity-totals"' in page and len(rows_of(page)) == 7


def test_waiting_minimum_balance_missed_paused_and_a_later_try_say_why(clock, estate, resident, electricity,
                                                                       as_resident, client):
    save_settings(resident, min_balance_kobo=2_000_00, grace_hours=24)
    fund(resident, 6_000_00)
    kept = make_automation(resident, make_utility_account(resident, electricity, nickname="Home meter"),
                           first_run=NOW, amount_kobo=5_000_00)
    paused = make_automation(resident, make_utility_account(resident, electricity, number="4509000000021",
                                                            nickname="Shop meter"),
                             first_run=NOW, amount_kobo=5_000_00, priority=1)
    automations.run_sweep(NOW)
    page = text_of(client.get("/automations/activity"))
    assert "paying now would take your wallet below the ₦2,000 minimum balance you set" in page
    assert total(page, "waiting") == "2"

    crud.pause(resident, paused.id)
    clock.move_to(NOW + timedelta(hours=1))
    automations.run_sweep(NOW + timedelta(hours=1))
    page = text_of(client.get("/automations/activity"))
    assert "The automation was paused or turned off" in page
    assert (total(page, "skipped"), total(page, "waiting")) == ("1", "1")

    clock.move_to(NOW + timedelta(hours=25))  # the 24-hour grace period is over
    automations.run_sweep(NOW + timedelta(hours=25))
    page = text_of(client.get("/automations/activity"))
    assert ("Your wallet could not cover it above the ₦2,000 minimum balance you set before the grace period "
            "ended") in page
    assert total(page, "skipped") == "2" and total(page, "waiting") == ""

    # April's run waits for money and is paid on a later try, once the wallet is funded.
    april = datetime(2027, 4, 1, 8, 0, tzinfo=UTC)
    clock.move_to(april)
    automations.run_sweep(april)
    fund(resident, 10_000_00, ref="top-up")
    clock.move_to(april + timedelta(hours=3))
    automations.run_sweep(april + timedelta(hours=3))
    page = text_of(client.get("/automations/activity"))
    [row] = rows_of(page)
    assert "Home meter" in row and "Paid on a later try: it was due 1 Apr 2027, 09:00." in row
    assert kept.next_run_at is not None


def test_runs_that_fell_in_a_pause_are_listed_as_skipped_once(clock, estate, resident, electricity, as_resident,
                                                              client):
    fund(resident, 50_000_00)
    meter = make_utility_account(resident, electricity, nickname="Home meter")
    automation = make_automation(resident, meter, first_run=NOW)
    clock.move_to(NOW - timedelta(days=1))
    crud.pause(resident, automation.id)
    clock.move_to(NOW + timedelta(days=62))  # 2 May: the runs of 1 March, 1 April and 1 May fell in the pause
    crud.resume(resident, automation.id)
    crud.resume(resident, automation.id)  # already running: nothing more recorded
    automations.run_sweep(NOW + timedelta(days=62))
    for month in ("2027-03", "2027-04", "2027-05"):
        [row] = rows_of(text_of(client.get(f"/automations/activity?month={month}")))
        assert "Skipped" in row and "Not paid: the automation was paused" in row
    assert db.session.get(type(automation), automation.id).next_run_at == datetime(2027, 6, 1, 8, 0, tzinfo=UTC)


def test_a_run_the_provider_or_the_estate_cannot_price_is_skipped_with_the_reason(clock, estate, resident,
                                                                                 electricity, as_resident, client):
    fund(resident, 50_000_00)
    unknown = make_utility_account(resident, electricity, number="9999999999999", nickname="Old meter")
    make_automation(resident, unknown, first_run=NOW, amount_mode="full_outstanding", amount_kobo=None)
    make_automation(resident, None, first_run=NOW, amount_mode="full_outstanding", amount_kobo=None,
                    bill_type="security")
    automations.run_sweep(NOW)
    rows = rows_of(text_of(client.get("/automations/activity")))
    assert len(rows) == 2 and all("Skipped" in row for row in rows)
    assert any(r.startswith("Old meter") and "The provider did not report the outstanding amount" in r for r in rows)
    assert any(r.startswith("Security bill") and "No open estate bill of this kind" in r for r in rows)


def test_a_run_paid_by_the_saved_card_says_the_card_was_charged_into_the_wallet(
        clock, estate, resident, electricity, open_checkout, pay_checkout, as_resident, client):
    pay_checkout(open_checkout(resident, 5_000_00))  # a Paystack checkout saves the card
    card = db.session.scalars(select(SavedCard).where(SavedCard.user_id == resident.id)).one()
    meter = make_utility_account(resident, electricity, nickname="Home meter")
    make_automation(resident, meter, first_run=NOW, amount_kobo=20_000_00, payment_source="card",
                    saved_card_id=card.id)  # more than the wallet holds: the card pays for it
    automations.run_sweep(NOW)
    run_worker()
    [row] = rows_of(text_of(client.get("/automations/activity")))
    assert "Paid" in row and "₦20,000.00" in row and "Charged to your saved card, into your wallet." in row


def test_runs_are_newest_first_twenty_a_page(clock, estate, resident, electricity, as_resident, client):
    fund(resident, 50_000_00)
    meter = make_utility_account(resident, electricity, nickname="Home meter")
    make_automation(resident, meter, first_run=NOW, amount_kobo=1_000_00, schedule_kind="interval",
                    interval_unit="day", interval_count=1)
    later = NOW + timedelta(days=24)  # after downtime: 24 runs skipped, the latest paid
    clock.move_to(later)
    automations.run_sweep(later)

    first = text_of(client.get("/automations/activity"))
    rows = rows_of(first)
    assert len(rows) == 20
    assert "Paid" in rows[0] or "Being paid" in rows[0]
    assert "25 Mar 2027" in rows[0] and "24 Mar 2027" in rows[1]
    assert all("Missed while payments were paused; only the latest is paid" in r for r in rows[1:])
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = text_of(client.get("/automations/activity?month=2027-03&page=2"))
    assert len(rows_of(second)) == 5 and "1 Mar 2027" in rows_of(second)[-1]
    assert len(rows_of(text_of(client.get("/automations/activity?month=2027-03&page=9")))) == 0


def test_a_visitor_is_sent_to_sign_in(client, app):
    response = client.get("/automations/activity")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_an_admin_gets_a_404(as_admin, client):
    assert client.get("/automations/activity").status_code == 404


def test_a_resident_of_another_estate_sees_nothing(march, auth, client, other_estate):
    stranger = make_user(estate=other_estate, email="c@example.com")
    auth.login(stranger.email)
    assert rows_of(text_of(client.get("/automations/activity?month=2027-03"))) == []



# --- the monthly summary ----------------------------------------------------------------------------

APRIL_1ST_IN_LAGOS = datetime(2027, 3, 31, 23, 10, tzinfo=UTC)  # 00:10 on 1 April in Lagos
SUMMARY = notify.NotificationEvent.MONTHLY_SUMMARY


def summaries(user) -> tuple[list[Notification], list[EmailMessage]]:
    db.session.rollback()
    notes = db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                          Notification.event == SUMMARY.value)).all()
    emails = db.session.scalars(select(EmailMessage).where(EmailMessage.user_id == user.id,
                                                           EmailMessage.dedup_key.like("monthly-summary:%"))).all()
    return list(notes), list(emails)


def test_the_summary_job_is_scheduled():
    [entry] = [job for job in PERIODIC_JOBS if job.name == "automation-monthly-summaries"]
    assert entry.func is automation_jobs.send_monthly_summaries and entry.cron == "5 * * * *"


def test_on_the_1st_each_resident_with_activity_gets_one_summary_even_if_the_job_runs_twice(
        march, clock, jobs_run_here, resident, other_resident):
    clock.move_to(APRIL_1ST_IN_LAGOS, tick=False)
    assert automation_jobs.send_monthly_summaries() == "monthly summaries: 1 sent"
    assert automation_jobs.send_monthly_summaries() == "monthly summaries: 0 sent"
    clock.move_to(APRIL_1ST_IN_LAGOS + timedelta(hours=1))  # the next hour's run, through a real worker
    job = automation_jobs.send_monthly_summaries.enqueue()
    run_worker()
    assert job.return_value() == "monthly summaries: 0 sent"

    [note], [email] = summaries(resident)
    assert note.title == email.subject == "What autopay did in March 2027"
    assert note.link == "/automations/activity?month=2027-03"
    assert "In March 2027 autopay paid ₦8,000.00: Electricity ₦5,000.00, Estate bill ₦3,000.00." in note.body
    assert "Payments made by autopay: 4. Held for review: 1. Skipped: 3. Failed: 1." in note.body
    assert "/automations/activity?month=2027-03" in email.body_text and email.status == "sent"
    assert summaries(other_resident) == ([], [])  # nothing happened for them in March


def test_no_summary_before_the_1st_nor_for_a_month_without_activity(march, clock, resident):
    clock.move_to(APRIL_1ST_IN_LAGOS - timedelta(hours=1), tick=False)  # 23:10 on 31 March in Lagos
    assert automations.send_monthly_summaries() == 0
    clock.move_to(datetime(2027, 4, 2, 8, 0, tzinfo=UTC), tick=False)  # the 2nd: not the day
    assert automations.send_monthly_summaries() == 0
    clock.move_to(datetime(2027, 4, 30, 23, 10, tzinfo=UTC), tick=False)  # 1 May: April had no runs
    assert automations.send_monthly_summaries() == 0
    assert summaries(resident) == ([], [])


def test_each_resident_gets_it_on_their_own_1st(march, clock, resident):
    resident.timezone = "Africa/Nairobi"  # UTC+3: April begins there two hours before Lagos
    db.session.commit()
    clock.move_to(datetime(2027, 3, 31, 21, 10, tzinfo=UTC), tick=False)
    assert automations.send_monthly_summaries() == 1
    assert len(summaries(resident)[0]) == 1


@pytest.mark.parametrize("off", ["email", "in_app"])
def test_a_channel_turned_off_for_the_summary_is_respected(march, clock, resident, off):
    notify.set_preference(resident.id, SUMMARY, off, False)
    db.session.commit()
    clock.move_to(APRIL_1ST_IN_LAGOS, tick=False)
    automations.send_monthly_summaries()
    notes, emails = summaries(resident)
    assert (len(notes), len(emails)) == ((1, 0) if off == "email" else (0, 1))


@pytest.mark.parametrize("path", ["/automations/", "/automations/upcoming"])
def test_automations_and_upcoming_link_to_it(as_resident, client, path):
    assert 'href="/automations/activity"' in text_of(client.get(path))
