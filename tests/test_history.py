"""Payment history: filters, pagination, CSV export, detail, receipt, and who may see what."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from webapp.extensions import db
from webapp.models import PaymentEvent, ProviderCallLog
from webapp.models.base import utcnow
from webapp.services import ledger

from .factories_automations import make_estate_bill
from .factories_payments import PaymentFactory, make_payment, make_utility_account
from .page_access import assert_sends_to_sign_in
from .sql_counting import fetch

LISTED = re.compile(r'href="/payments/(\d+)"')


def listed(response) -> list[int]:
    """Ids of the payments a history page lists, in page order."""
    assert response.status_code == 200
    return [int(i) for i in LISTED.findall(response.get_data(as_text=True))]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)




# Who may see history

def test_anonymous_visitor_is_sent_to_login(client):
    assert_sends_to_sign_in(client, "/payments/", "/payments/export.csv", "/payments/1", "/payments/1/receipt")


def test_admin_gets_404_on_history(auth, client, estate_admin):
    auth.login("admin@example.com")
    assert client.get("/payments/").status_code == 404
    assert client.get("/payments/export.csv").status_code == 404


def test_another_residents_payment_is_404_on_detail_and_receipt(logged_in, other_resident, power_entry):
    theirs = make_payment(other_resident, make_utility_account(other_resident, power_entry))
    assert logged_in.get(f"/payments/{theirs.id}").status_code == 404
    assert logged_in.get(f"/payments/{theirs.id}/receipt").status_code == 404


def test_payment_id_that_does_not_exist_is_404(logged_in):
    assert logged_in.get("/payments/999999").status_code == 404


def test_history_lists_only_own_payments_newest_first(logged_in, resident, other_resident, meter, power_entry):
    older = make_payment(resident, meter, created_at=at(2025, 3, 1, 9))
    newer = make_payment(resident, meter, created_at=at(2025, 3, 2, 9))
    make_payment(other_resident, make_utility_account(other_resident, power_entry))
    assert listed(logged_in.get("/payments/")) == [newer.id, older.id]


# What a row shows

def test_row_shows_date_account_type_amount_status_and_token(logged_in, resident, meter):
    make_payment(resident, meter, amount_kobo=1_234_567, token="12345678901234567890", created_at=at(2025, 3, 1, 9))
    html = logged_in.get("/payments/").get_data(as_text=True)
    assert "1 Mar 2025, 10:00" in html  # 09:00 UTC is 10:00 in Lagos
    assert "Flat 3 meter" in html and "•••• 5678" in html
    assert "Electricity" in html
    assert "₦12,345.67" in html
    assert 'class="badge badge-succeeded"' in html
    assert "1234 5678 9012 3456 7890" in html


def test_an_estate_bill_row_says_which_bill_was_paid(logged_in, resident):
    bill = make_estate_bill(resident, title="Service charge, Q4 2026")
    PaymentFactory(utility_account=None, user=resident, provider=None, kind="estate_bill", bill_id=bill.id,
                   utility_type=None, api_provider=None, fee_kobo=0, amount_kobo=3_000_00, vends_token=False)
    html = logged_in.get("/payments/").get_data(as_text=True)
    assert "Service charge, Q4 2026" in html and "Estate bill" in html and "₦3,000.00" in html


# Filters

def test_filter_by_account(logged_in, resident, meter, decoder):
    power = make_payment(resident, meter)
    make_payment(resident, decoder)
    assert listed(logged_in.get(f"/payments/?account={meter.id}")) == [power.id]


def test_filter_by_a_removed_account_still_finds_its_history(logged_in, resident, meter, decoder):
    kept = make_payment(resident, decoder)
    make_payment(resident, meter)
    decoder.removed_at = utcnow()
    db.session.commit()
    response = logged_in.get(f"/payments/?account={decoder.id}")
    assert listed(response) == [kept.id]
    assert "Living room DStv (•••• 6789) · removed" in response.get_data(as_text=True)


def test_filter_by_another_residents_account_is_ignored_with_a_message(logged_in, resident, other_resident,
                                                                       meter, power_entry):
    mine = make_payment(resident, meter)
    theirs = make_utility_account(other_resident, power_entry)
    make_payment(other_resident, theirs)
    response = logged_in.get(f"/payments/?account={theirs.id}")
    assert listed(response) == [mine.id]
    assert "Choose one of your own accounts" in response.get_data(as_text=True)


def test_filter_by_utility_type(logged_in, resident, meter, decoder):
    make_payment(resident, meter)
    tv = make_payment(resident, decoder)
    assert listed(logged_in.get("/payments/?type=cable_tv")) == [tv.id]


def test_filter_by_status(logged_in, resident, meter):
    make_payment(resident, meter)
    failed = make_payment(resident, meter, status="failed", status_reason="No customer found for this meter number.")
    assert listed(logged_in.get("/payments/?status=failed")) == [failed.id]


def test_date_range_counts_days_in_the_residents_timezone(logged_in, resident, meter):
    # 23:30 UTC on 31 March is 00:30 on 1 April in Lagos.
    april_first_local = make_payment(resident, meter, created_at=at(2025, 3, 31, 23, 30))
    march_31_local = make_payment(resident, meter, created_at=at(2025, 3, 31, 22, 30))
    assert listed(logged_in.get("/payments/?from=2025-04-01&to=2025-04-01")) == [april_first_local.id]
    assert listed(logged_in.get("/payments/?to=2025-03-31")) == [march_31_local.id]


def test_date_range_follows_the_residents_own_timezone_over_the_estates(logged_in, resident, meter):
    resident.timezone = "Asia/Tokyo"  # UTC+9, while the estate keeps Africa/Lagos
    db.session.commit()
    # 16:00 UTC on 31 March is 01:00 on 1 April in Tokyo (17:00 on 31 March in Lagos).
    payment = make_payment(resident, meter, created_at=at(2025, 3, 31, 16))
    assert listed(logged_in.get("/payments/?from=2025-04-01&to=2025-04-01")) == [payment.id]
    assert listed(logged_in.get("/payments/?to=2025-03-31")) == []


def test_filters_combine(logged_in, resident, meter, decoder):
    wanted = make_payment(resident, meter, status="failed", created_at=at(2025, 5, 10, 12))
    make_payment(resident, meter, status="failed", created_at=at(2025, 6, 10, 12))
    make_payment(resident, meter, status="succeeded", created_at=at(2025, 5, 11, 12))
    make_payment(resident, decoder, status="failed", created_at=at(2025, 5, 12, 12))
    query = f"account={meter.id}&type=electricity&status=failed&from=2025-05-01&to=2025-05-31"
    assert listed(logged_in.get(f"/payments/?{query}")) == [wanted.id]


@pytest.mark.parametrize("query", ["from=2025-02-30", "to=yesterday", "from=0001-01-01", "to=9999-12-31",
                                   "from=2025-13-01&to=2999-01-01"])
def test_bad_date_shows_a_message_and_is_ignored(logged_in, resident, meter, query):
    payment = make_payment(resident, meter)
    response = logged_in.get(f"/payments/?{query}")
    assert listed(response) == [payment.id]
    assert 'class="alert alert-warning"' in response.get_data(as_text=True)


def test_start_after_end_is_ignored_with_a_message(logged_in, resident, meter):
    payment = make_payment(resident, meter, created_at=at(2025, 5, 10, 12))
    response = logged_in.get("/payments/?from=2025-06-01&to=2025-05-01")
    assert listed(response) == [payment.id]
    assert "The “from” date is after the “to” date" in response.get_data(as_text=True)


def test_a_date_that_cannot_be_used_is_shown_as_typed(logged_in, resident, meter):
    html = logged_in.get("/payments/?from=2025-02-30&to=2025-05-01").get_data(as_text=True)
    assert "“2025-02-30” is not a date for “from”" in html
    assert 'value="2025-02-30"' in html and 'value="2025-05-01"' in html


def test_unknown_type_and_status_are_ignored_with_messages(logged_in, resident, meter):
    payment = make_payment(resident, meter)
    html = logged_in.get("/payments/?type=gas&status=paid").get_data(as_text=True)
    assert f'href="/payments/{payment.id}"' in html
    assert "Choose a utility type from the list" in html and "Choose a status from the list" in html


def test_htmx_filter_request_gets_the_results_fragment(logged_in, resident, meter, decoder):
    tv = make_payment(resident, decoder)
    make_payment(resident, meter)
    response = logged_in.get("/payments/?type=cable_tv", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert listed(response) == [tv.id]
    assert "<html" not in html and 'id="history-count"' in html
    assert "HX-Request" in response.headers["Vary"]
    # The CSV link in the fragment carries the same filters.
    assert "/payments/export.csv?type=cable_tv" in html


def test_filter_form_submits_by_get_and_htmx(logged_in):
    html = logged_in.get("/payments/").get_data(as_text=True)
    assert re.search(r'<form method="get" action="/payments/"[^>]*hx-get="/payments/"[^>]*hx-push-url="true"',
                     html, re.S)


# Pagination

def test_pages_hold_twenty_payments_and_keep_the_filters(logged_in, resident, meter):
    start = at(2025, 1, 1, 12)
    ids = [make_payment(resident, meter, created_at=start + timedelta(hours=i)).id for i in range(45)]
    newest_first = ids[::-1]
    first = logged_in.get("/payments/?type=electricity")
    assert listed(first) == newest_first[:20]
    html = first.get_data(as_text=True)
    assert "Page 1 of 3" in html
    assert 'href="/payments/?page=2&amp;type=electricity"' in html
    assert listed(logged_in.get("/payments/?page=3&type=electricity")) == newest_first[40:]


def test_page_past_the_end_says_so(logged_in, resident, meter):
    make_payment(resident, meter)
    response = logged_in.get("/payments/?page=9")
    assert listed(response) == []
    assert "There is nothing on this page" in response.get_data(as_text=True)


def test_nonsense_page_number_shows_the_first_page(logged_in, resident, meter):
    payment = make_payment(resident, meter)
    assert listed(logged_in.get("/payments/?page=abc")) == [payment.id]
    assert listed(logged_in.get("/payments/?page=-3")) == [payment.id]


# CSV export

def export(client, path: str = "/payments/export.csv"):
    """Fetch the CSV in its own app context, as a server would: the body streams after the
    request's database session is gone, which the test's shared app context would hide."""
    return fetch(client, path)


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_csv_is_an_attachment_with_a_header_and_a_row_per_payment(logged_in, resident, meter):
    make_payment(resident, meter, amount_kobo=123_405, fee_kobo=100_00, token="12345678901234567890",
                 created_at=at(2025, 3, 1, 9, 5))
    response = export(logged_in)
    assert response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="payments-\d{8}\.csv"', response.headers["Content-Disposition"])
    header, row = read_csv(response)
    record = dict(zip(header, row, strict=True))
    assert header[:3] == ["Date", "Reference", "Account"]
    assert record["Date"] == "2025-03-01 10:05"
    assert record["Account"] == "Flat 3 meter" and record["Number"] == "•••• 5678"
    assert (record["Amount (NGN)"], record["Fee (NGN)"], record["Total (NGN)"]) == ("1234.05", "100.00", "1334.05")
    assert record["Status"] == "Succeeded"
    assert record["Token"] == "1234 5678 9012 3456 7890"


def test_csv_uses_the_same_filters_as_the_page(logged_in, resident, other_resident, meter, decoder, power_entry):
    tv = make_payment(resident, decoder)
    make_payment(resident, meter)
    make_payment(other_resident, make_utility_account(other_resident, power_entry))
    rows = read_csv(export(logged_in, "/payments/export.csv?type=cable_tv"))
    assert [r[1] for r in rows[1:]] == [tv.reference]


def test_csv_neutralises_spreadsheet_formulas(logged_in, resident, power_entry):
    for name in ("=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)"):
        account = make_utility_account(resident, power_entry, f"4501234{len(name):04d}{ord(name[0]):02d}",
                                       nickname=name)
        make_payment(resident, account, status="failed", status_reason="=cmd|' /C calc'!A0")
    header, *rows = read_csv(export(logged_in))
    account_col, reason_col = header.index("Account"), header.index("Reason")
    assert sorted(r[account_col] for r in rows) == ["'+1+1", "'-2+3", "'=HYPERLINK(\"http://evil\")", "'@SUM(A1)"]
    assert all(r[reason_col] == "'=cmd|' /C calc'!A0" for r in rows)


# Detail

def test_detail_shows_amounts_token_groups_copy_button_and_units(logged_in, resident, meter):
    payment = make_payment(resident, meter, amount_kobo=5_000_00, fee_kobo=100_00, token="12345678901234567890")
    html = logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert '<dd class="num" id="amount">₦5,000.00</dd>' in html
    assert '<dd class="num" id="fee">₦100.00</dd>' in html
    assert "<strong>₦5,100.00</strong>" in html
    assert '<p class="token" id="token">1234 5678 9012 3456 7890</p>' in html
    assert 'data-copy="12345678901234567890"' in html
    assert "32.5 kWh" in html


def test_detail_shows_the_timeline_in_order(logged_in, resident, meter):
    payment = make_payment(resident, meter)
    for from_status, to_status, reason in [(None, "created", "Payment requested"),
                                           ("created", "debited", "Wallet debited"),
                                           ("debited", "submitted", "Sent to VTpass"),
                                           ("submitted", "succeeded", "Token received")]:
        db.session.add(PaymentEvent(payment_id=payment.id, from_status=from_status, to_status=to_status,
                                    reason=reason, actor="worker"))
    db.session.commit()
    html = logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    timeline = html[html.index('id="timeline"'):]
    positions = [timeline.index(r) for r in ("Payment requested", "Wallet debited", "Sent to VTpass", "Token received")]
    assert positions == sorted(positions)
    assert "Paid from wallet → <strong>Sent to provider</strong>" in timeline


def test_detail_shows_provider_calls_with_redacted_bodies_collapsed(logged_in, resident, meter):
    payment = make_payment(resident, meter)
    db.session.add(ProviderCallLog(payment_id=payment.id, provider="vtpass", operation="purchase_utility",
                                   method="POST", url="https://vtpass.example/api/pay", http_status=200,
                                   latency_ms=412, request_body='{"billersCode": "****5678"}',
                                   response_body='{"code": "000"}'))
    db.session.commit()
    html = logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    calls = html[html.index('id="provider-calls"'):]
    assert "purchase utility" in calls and ">200<" in calls and "412 ms" in calls
    assert re.search(r"<details>\s*<summary>POST request and response</summary>", calls)
    assert "{&#34;billersCode&#34;: &#34;****5678&#34;}" in calls


def test_failed_payment_shows_reason_and_the_refund(logged_in, resident, meter):
    payment = make_payment(resident, meter, status="failed", amount_kobo=5_000_00, fee_kobo=100_00,
                           status_reason="No customer found for this meter number.")
    ledger.credit_funding(resident.id, 10_000_00, "paystack", "FUND1")
    ledger.debit_payment(resident.id, 5_000_00, 100_00, "vtpass", payment.reference)
    ledger.refund_payment(payment.reference)
    db.session.commit()
    html = logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert "No customer found for this meter number." in html
    assert re.search(r"₦5,100.00 was returned to your wallet on", html)


def test_failed_payment_before_any_debit_says_no_money_was_taken(logged_in, resident, meter):
    payment = make_payment(resident, meter, status="failed", status_reason="This service is not available.")
    html = logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert "No money was taken from your wallet." in html


# Receipt

def test_receipt_of_a_succeeded_payment_is_printable(logged_in, resident, meter):
    payment = make_payment(resident, meter, amount_kobo=2_500_00, fee_kobo=100_00, token="11112222333344445555")
    response = logged_in.get(f"/payments/{payment.id}/receipt")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert payment.reference in html and "1111 2222 3333 4444 5555" in html and "₦2,600.00" in html
    assert 'class="actions no-print"' in html


@pytest.mark.parametrize("status", ["created", "submitted", "unknown", "failed", "cancelled"])
def test_receipt_exists_only_for_succeeded_payments(logged_in, resident, meter, status):
    payment = make_payment(resident, meter, status=status)
    assert logged_in.get(f"/payments/{payment.id}/receipt").status_code == 404


def _timeline_actors(html: str) -> list[str]:
    return re.findall(r'class="muted actor">by ([^<]+)<', html.split('id="timeline"')[1])


def test_the_timeline_says_who_acted_in_the_residents_words(logged_in, resident, meter, estate_admin):
    estate_admin.full_name = "Musa Bello"
    db.session.commit()
    payment = make_payment(resident, meter, "refunded")
    for actor in (f"user:{resident.id}", "automation:5", "system", f"admin:{estate_admin.email}", "admin:gone@x.ng"):
        db.session.add(PaymentEvent(payment_id=payment.id, from_status=None, to_status="created", reason="",
                                    actor=actor))
    db.session.commit()
    html = logged_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert _timeline_actors(html) == ["you", "your automatic payment", "Autopay", "Estate admin Musa Bello",
                                      "an estate admin"]
    assert f"user:{resident.id}" not in html and "(system)" not in html and f"admin:{estate_admin.email}" not in html


def test_the_timeline_loads_every_name_in_one_query(logged_in, resident, meter, estate):
    from .factories import make_user
    from .sql_counting import counted_statements

    def statements_for(people: int) -> int:
        payment = make_payment(resident, meter)
        for n in range(people):
            admin = make_user(estate=estate, email=f"admin{people}-{n}@example.com", role="estate_admin")
            db.session.add(PaymentEvent(payment_id=payment.id, from_status=None, to_status="created", reason="",
                                        actor=f"admin:{admin.email}"))
        db.session.commit()
        with counted_statements() as statements:
            assert fetch(logged_in, f"/payments/{payment.id}").status_code == 200
        return len(statements)

    assert statements_for(1) == statements_for(6)
