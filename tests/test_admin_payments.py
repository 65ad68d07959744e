"""Payment operations for estate admins: the held/unknown/failed queues, a payment's story, and the
actions (approve, reject, refund, requery, resolve an alert), each scoped to the admin's estates,
each writing exactly one audit row.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.factories_payments import make_admin_alert, make_catalogue_entry, make_payment, make_utility_account
from tests.payments.helpers import entry_count, fund, link, paid_from_wallet, pay, reload, run_worker
from webapp.extensions import db
from webapp.jobs import PAYMENTS, queue
from webapp.models import AdminAlert, AuditEntry, Notification, PaymentEvent, ProviderCallLog
from webapp.models.base import utcnow
from webapp.services import ledger


@pytest.fixture
def config_overrides(request):
    # Only the requery test talks to a provider; it asks for the sandbox.
    if "sandbox" in request.fixturenames:
        return {**request.getfixturevalue("sandbox_config"), "PAYMENT_RQ_RETRY_INTERVALS": []}
    return {}


@pytest.fixture
def entry(estate):
    return make_catalogue_entry(estate)


@pytest.fixture
def account(resident, entry):
    return make_utility_account(resident, entry, nickname="Home meter")


@pytest.fixture
def held(resident, account):
    return make_payment(resident, account, "held", amount_kobo=7_500_00,
                        status_reason="Held for review: 3 purchases on one account within an hour")


@pytest.fixture
def estate_b():
    return factories.make_estate(name="Cedar Court")


@pytest.fixture
def held_b(estate_b):
    resident_b = factories.make_user(estate=estate_b, email="zainab@example.com", full_name="Zainab Bello")
    account_b = make_utility_account(resident_b, make_catalogue_entry(estate_b), number="7012345678999",
                                     nickname="Cedar meter")
    return make_payment(resident_b, account_b, "held", amount_kobo=9_900_00, status_reason="Held for review: B")


@pytest.fixture
def platform_admin(app):
    return factories.make_user(email="root@example.com", role="platform_admin")


def audit_actions() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def page_text(response) -> str:
    return response.get_data(as_text=True)


def action_paths(payment_id: int) -> list[str]:
    return [f"/admin/payments/{payment_id}/{verb}" for verb in ("approve", "reject", "refund", "requery")]


# --- who may come in ----------------------------------------------------------------------------

def test_a_resident_gets_404_on_every_payment_operations_route(client, auth, resident, held):
    alert = make_admin_alert(held)
    auth.login(resident.email)
    for path in ["/admin/payments/", "/admin/payments/?queue=unknown", f"/admin/payments/{held.id}"]:
        assert client.get(path).status_code == 404, path
    token = auth.csrf("/auth/password")
    for path in [*action_paths(held.id), f"/admin/payments/alerts/{alert.id}/resolve"]:
        assert client.post(path, data={"csrf_token": token, "reason": "x"}).status_code == 404, path
    assert reload(held).status == "held"
    assert audit_actions() == []


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/admin/payments/")
    assert response.status_code == 302 and "/auth/login" in response.location


# --- the queues ---------------------------------------------------------------------------------

def test_the_held_queue_shows_resident_account_amount_reason_age_and_provider(client, auth, estate_admin, held):
    with db.session.no_autoflush:
        held.created_at = utcnow() - timedelta(hours=3)
    db.session.commit()
    auth.login(estate_admin.email)
    html = page_text(client.get("/admin/payments/"))
    row = re.search(rf'<tr id="payment-{held.id}".*?</tr>', html, re.S).group(0)
    assert "Ada Okafor" in row and "ada@example.com" in row
    assert "Home meter" in row and "•••• 1111" in row
    assert "₦7,600.00" in row  # amount + ₦100 fee, what leaves the wallet
    assert "3 purchases on one account within an hour" in row
    assert "3 h" in row
    assert "Ikeja Electric Prepaid" in row and "Vtpass" in row
    assert 'aria-label="Approve payment' in row


def test_each_queue_lists_only_its_status_and_the_tabs_count_them(client, auth, estate_admin, resident, account,
                                                                  held):
    unknown = make_payment(resident, account, "unknown", submitted_at=utcnow() - timedelta(minutes=50))
    failed = make_payment(resident, account, "failed", status_reason="Meter blocked")
    auth.login(estate_admin.email)
    unknown_page = page_text(client.get("/admin/payments/?queue=unknown"))
    assert f'id="payment-{unknown.id}"' in unknown_page
    assert f'id="payment-{held.id}"' not in unknown_page and f'id="payment-{failed.id}"' not in unknown_page
    assert "Requery now" in unknown_page and "50 min" in unknown_page
    failed_page = page_text(client.get("/admin/payments/?queue=failed"))
    assert f'id="payment-{failed.id}"' in failed_page and "Meter blocked" in failed_page
    for key in ("held", "unknown", "failed"):
        assert f'data-count="{key}">1<' in failed_page


def test_an_unknown_queue_name_shows_the_held_queue(client, auth, estate_admin, held):
    auth.login(estate_admin.email)
    assert f'id="payment-{held.id}"' in page_text(client.get("/admin/payments/?queue=<script>"))


def test_a_long_queue_is_paginated_oldest_first(client, auth, estate_admin, resident, account):
    start = utcnow() - timedelta(days=2)
    rows = [make_payment(resident, account, "held", created_at=start + timedelta(minutes=i)) for i in range(27)]
    auth.login(estate_admin.email)
    first = page_text(client.get("/admin/payments/?queue=held"))
    assert f'id="payment-{rows[0].id}"' in first and f'id="payment-{rows[25].id}"' not in first
    assert "Page 1 of 2" in first
    second = page_text(client.get("/admin/payments/?queue=held&page=2"))
    assert f'id="payment-{rows[25].id}"' in second and f'id="payment-{rows[26].id}"' in second
    assert f'id="payment-{rows[0].id}"' not in second


# --- estate A's admin and estate B's payments ---------------------------------------------------

def test_an_estate_admin_sees_only_their_estates_payments_and_alerts(client, auth, estate_admin, held, held_b):
    make_admin_alert(held_b, message="Cedar payment stuck")
    auth.login(estate_admin.email)
    html = page_text(client.get("/admin/payments/"))
    assert f'id="payment-{held.id}"' in html
    assert f'id="payment-{held_b.id}"' not in html and "Zainab" not in html
    assert "Cedar payment stuck" not in html
    assert 'data-count="held">1<' in html


def test_the_admin_of_estate_a_cannot_see_or_act_on_estate_bs_payment(client, auth, estate_admin, held_b):
    auth.login(estate_admin.email)
    assert client.get(f"/admin/payments/{held_b.id}").status_code == 404
    token = auth.csrf("/admin/payments/")
    for path in action_paths(held_b.id):
        assert client.post(path, data={"csrf_token": token, "reason": "no"}).status_code == 404, path
    assert reload(held_b).status == "held"
    assert audit_actions() == []


def test_the_admin_of_estate_a_cannot_resolve_estate_bs_alert(client, auth, estate_admin, held_b):
    alert = make_admin_alert(held_b)
    auth.login(estate_admin.email)
    response = auth.post(f"/admin/payments/alerts/{alert.id}/resolve", page="/admin/payments/")
    assert response.status_code == 404
    db.session.rollback()
    assert db.session.get(AdminAlert, alert.id).resolved_at is None
    assert audit_actions() == []


def test_a_platform_admin_sees_every_estate_with_its_name(client, auth, platform_admin, held, held_b):
    auth.login(platform_admin.email)
    html = page_text(client.get("/admin/payments/"))
    assert f'id="payment-{held.id}"' in html and f'id="payment-{held_b.id}"' in html
    assert "Cedar Court" in html
    assert client.get(f"/admin/payments/{held_b.id}").status_code == 200


# --- a payment's story --------------------------------------------------------------------------

def test_the_detail_page_shows_the_timeline_and_provider_calls(client, auth, estate_admin, resident, account):
    payment = make_payment(resident, account, "unknown")
    db.session.add_all([
        PaymentEvent(payment_id=payment.id, from_status="submitted", to_status="unknown",
                     reason="The provider did not answer in time", actor="worker"),
        ProviderCallLog(payment_id=payment.id, provider="vtpass", operation="purchase", method="POST",
                        url="http://sandbox/vtpass/api/pay", http_status=None, latency_ms=1003,
                        request_body='{"request_id": "x"}', error="timeout"),
    ])
    db.session.commit()
    auth.login(estate_admin.email)
    html = page_text(client.get(f"/admin/payments/{payment.id}"))
    assert "The provider did not answer in time" in html and "by Autopay" in html and "(worker)" not in html
    assert "1003 ms" in html and "no answer" in html and "timeout" in html
    assert "Requery now" in html
    assert "not debited" in html


# --- actions: each writes one audit row ---------------------------------------------------------

def test_approving_from_the_queue_queues_the_payment_tells_the_resident_and_audits_once(
        client, auth, estate_admin, resident, held):
    auth.login(estate_admin.email)
    response = auth.post(f"/admin/payments/{held.id}/approve", page="/admin/payments/", follow_redirects=True)
    assert "Approved." in page_text(response)
    payment = reload(held)
    assert payment.status == "created"
    assert payment.reference in queue(PAYMENTS).job_ids
    assert audit_actions() == ["payment.approve"]
    entry = db.session.scalar(select(AuditEntry))
    assert (entry.actor, entry.object_id, entry.estate_id) == ("admin@example.com", held.id, held.estate_id)
    assert entry.before["status"] == "held" and entry.after["status"] == "created"
    assert db.session.scalar(select(Notification.title).where(Notification.user_id == resident.id)) \
        == "Payment approved"


def test_rejecting_needs_a_reason_and_without_one_changes_nothing(client, auth, estate_admin, held):
    auth.login(estate_admin.email)
    response = auth.post(f"/admin/payments/{held.id}/reject", {"reason": "  "}, page=f"/admin/payments/{held.id}",
                         follow_redirects=True)
    assert "Give a reason; the resident will see it." in page_text(response)
    assert reload(held).status == "held"
    assert audit_actions() == []


def test_rejecting_with_a_reason_cancels_without_moving_money_and_audits_once(client, auth, estate_admin, held):
    auth.login(estate_admin.email)
    response = auth.post(f"/admin/payments/{held.id}/reject", {"reason": "Not your meter"},
                         page=f"/admin/payments/{held.id}", follow_redirects=True)
    assert "Rejected." in page_text(response)
    payment = reload(held)
    assert payment.status == "cancelled" and "Not your meter" in payment.status_reason
    assert entry_count(payment.reference, "refund") == 0
    assert audit_actions() == ["payment.reject"]
    assert db.session.scalar(select(AuditEntry.reason)) == "Not your meter"


def test_a_reason_longer_than_200_characters_is_refused(client, auth, estate_admin, held):
    auth.login(estate_admin.email)
    response = auth.post(f"/admin/payments/{held.id}/reject", {"reason": "x" * 201},
                         page=f"/admin/payments/{held.id}", follow_redirects=True)
    assert "Keep the reason to 200 characters" in page_text(response)
    assert reload(held).status == "held"
    assert audit_actions() == []


@pytest.fixture
def succeeded(resident, account):
    """A succeeded payment whose debit really went through the ledger."""
    return paid_from_wallet(resident, account, 5_000_00)


def test_refunding_a_succeeded_payment_returns_the_debit_once_and_audits_once(client, auth, estate_admin, resident,
                                                                              succeeded):
    before = ledger.wallet_balance(resident.id)
    auth.login(estate_admin.email)
    page = f"/admin/payments/{succeeded.id}"
    assert "Refund ₦5,100.00" in page_text(client.get(page))
    response = auth.post(f"{page}/refund", {"reason": "Token did not load"}, page=page, follow_redirects=True)
    assert "Refunded to the resident" in page_text(response)
    assert reload(succeeded).status == "refunded"
    assert ledger.wallet_balance(resident.id) == before + 5_100_00
    again = auth.post(f"{page}/refund", {"reason": "Again"}, page=page, follow_redirects=True)
    assert "Only a succeeded payment can be refunded." in page_text(again)
    assert ledger.wallet_balance(resident.id) == before + 5_100_00
    assert entry_count(succeeded.reference, "refund") == 1
    assert audit_actions() == ["payment.refund"]
    assert ledger.check_invariants() == []


def test_a_refund_needs_a_reason(client, auth, estate_admin, succeeded):
    auth.login(estate_admin.email)
    page = f"/admin/payments/{succeeded.id}"
    response = auth.post(f"{page}/refund", {"reason": ""}, page=page, follow_redirects=True)
    assert "Give a reason for the refund" in page_text(response)
    assert reload(succeeded).status == "succeeded"
    assert audit_actions() == []


def test_approving_a_payment_that_is_not_held_is_refused_with_a_message(client, auth, estate_admin, resident,
                                                                        account):
    failed = make_payment(resident, account, "failed")
    auth.login(estate_admin.email)
    page = f"/admin/payments/{failed.id}"
    response = auth.post(f"{page}/approve", page=page, follow_redirects=True)
    assert "Only a payment held for review can be approved." in page_text(response)
    requery = auth.post(f"{page}/requery", page=page, follow_redirects=True)
    assert "Only a payment whose outcome is unknown can be requeried." in page_text(requery)
    assert reload(failed).status == "failed"
    assert audit_actions() == []


def test_requery_now_asks_the_provider_and_audits_once(client, auth, estate_admin, resident, account, sandbox):
    fund(resident, 20_000_00)
    timed_out = link(resident, account.provider, "3000000000000", nickname="Slow meter")  # processed, no answer
    payment = pay(resident, timed_out, key="slow")
    run_worker()
    assert reload(payment).status == "unknown"
    actions_before = audit_actions()
    auth.login(estate_admin.email)
    page = f"/admin/payments/{payment.id}"
    response = auth.post(f"{page}/requery", page=page, follow_redirects=True)
    assert "The provider answered: the payment is now succeeded." in page_text(response)
    assert reload(payment).status == "succeeded"
    assert audit_actions() == [*actions_before, "payment.requery"]
    assert entry_count(payment.reference, "debit") == 1
    assert ledger.check_invariants() == []


def test_open_alerts_are_listed_and_resolving_one_is_audited_once(client, auth, estate_admin, resident, account):
    payment = make_payment(resident, account, "unknown")
    alert = make_admin_alert(payment, message=f"Payment {payment.reference} has had no final answer for over 24 hours.",
                             dedup_key=f"payment-unknown:{payment.reference}")
    auth.login(estate_admin.email)
    assert "no final answer for over 24 hours" in page_text(client.get("/admin/payments/"))
    response = auth.post(f"/admin/payments/alerts/{alert.id}/resolve", {"note": "Called VTpass"},
                         page="/admin/payments/", follow_redirects=True)
    assert "Alert resolved." in page_text(response)
    assert "no final answer for over 24 hours" not in page_text(client.get("/admin/payments/"))
    auth.post(f"/admin/payments/alerts/{alert.id}/resolve", page="/admin/payments/")
    assert audit_actions() == ["alert.resolve"]
    entry = db.session.scalar(select(AuditEntry))
    assert entry.reason == "Called VTpass" and entry.object_type == "admin_alert"


def test_an_action_without_a_csrf_token_is_refused(client, auth, estate_admin, held):
    auth.login(estate_admin.email)
    assert client.post(f"/admin/payments/{held.id}/approve").status_code == 400
    assert reload(held).status == "held"


def test_a_reason_left_from_an_earlier_hold_is_not_shown_as_the_current_one(client, auth, estate_admin, resident,
                                                                            account):
    approved = make_payment(resident, account, "succeeded", status_reason="Held for review: linked by 3 residents")
    auth.login(estate_admin.email)
    assert "linked by 3 residents" not in page_text(client.get("/admin/payments/?queue=succeeded"))
    assert 'id="status-reason"' not in page_text(client.get(f"/admin/payments/{approved.id}"))


def test_the_detail_page_lists_every_reference_the_provider_knows_the_payment_by(client, auth, estate_admin,
                                                                                resident, account):
    from webapp.models import ProviderReference

    payment = make_payment(resident, account, "unknown")
    db.session.add_all([
        ProviderReference(payment_id=payment.id, api_provider=payment.api_provider or "vtpass", kind="request_id",
                          value=f"{payment.reference}R2", attempt=2),
        ProviderReference(payment_id=payment.id, api_provider=payment.api_provider or "vtpass",
                          kind="transaction_id", value="17416102247366731230557150"),
    ])
    db.session.commit()
    auth.login(estate_admin.email)
    html = page_text(client.get(f"/admin/payments/{payment.id}"))
    assert payment.reference in html and f"{payment.reference}R2" in html and "from attempt 2" in html
    assert "17416102247366731230557150" in html and "transaction id" in html


def words(html: str) -> str:
    """A page's text as a reader sees it: tags out, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" .", ".")


@pytest.fixture
def refunded_by_admin(client, auth, estate_admin, succeeded):
    auth.login(estate_admin.email)
    page = f"/admin/payments/{succeeded.id}"
    auth.post(f"{page}/refund", {"reason": "Token did not load."}, page=page)
    auth.logout()
    return succeeded


@pytest.mark.parametrize("path", ["/pay/{id}", "/payments/{id}"])
def test_the_resident_reads_the_admins_refund_reason_on_the_payment_page(auth, resident, refunded_by_admin, path):
    auth.login(resident.email)
    shown = words(page_text(auth.client.get(path.format(id=refunded_by_admin.id))))
    assert re.search(r"Refunded on \d{1,2} \w{3} \d{4} ?: ₦5,100.00 is back in your wallet\. "
                     r"Reason: Token did not load\.", shown), shown
    assert "None" not in shown


def test_a_refund_without_a_recorded_reason_still_reads_well(auth, resident, account):
    refunded = make_payment(resident, account, "refunded", amount_kobo=1_000_00)
    auth.login(resident.email)
    shown = words(page_text(auth.client.get(f"/pay/{refunded.id}")))
    assert "Refunded. ₦1,100.00 is back in your wallet." in shown and "None" not in shown


def test_the_admins_timeline_names_the_resident_and_the_admin_instead_of_keys(client, auth, estate_admin, resident,
                                                                             refunded_by_admin):
    db.session.add(PaymentEvent(payment_id=refunded_by_admin.id, from_status=None, to_status="created",
                                reason="Payment requested", actor=f"user:{resident.id}"))
    db.session.add(PaymentEvent(payment_id=refunded_by_admin.id, from_status="created", to_status="debited",
                                reason="Wallet debited", actor="system"))
    db.session.commit()
    auth.login(estate_admin.email)
    timeline = page_text(client.get(f"/admin/payments/{refunded_by_admin.id}")).split('id="timeline"')[1]
    actors = re.findall(r'class="muted actor">by ([^<]+)<', timeline)
    assert sorted(actors) == sorted(["Resident Ada Okafor", "Autopay", f"you (Estate admin {estate_admin.full_name})"])
    assert f"user:{resident.id}" not in timeline and f"admin:{estate_admin.email}" not in timeline
    assert "(system)" not in timeline
