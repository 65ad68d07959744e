"""Every page people read, on a phone (390×844) and a desktop (1280×800), for a visitor, a resident
and an estate admin: nothing wider than the screen and nothing scrolling sideways inside a box; on
the phone every tap target at least 44×44 px (a link inside a sentence excepted, as WCAG 2.5.8
excepts it); and no axe-core violation.

The pages are the app's own GET routes: ``test_every_page_is_audited_or_left_out_with_a_reason``
fails when a route is added without being put in ``PAGES`` or ``LEFT_OUT``. The resident's data is
made for the audit (a meter, payments with a token and a long reference, an automation, an estate
bill, a top-up, a notification, a reconciliation run, automation runs), so that every list has rows to
lay out.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from webapp.cli import DEMO_ESTATE, DEMO_USERS

from .conftest import PHONE_VIEWPORT, TIMEOUT_MS
from .steps import sign_in

DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
ADMIN_EMAIL, ADMIN_PASSWORD = next((e, p) for e, p, *_ in DEMO_USERS if e == "admin@example.com")
AUDIT_PASSWORD = "correct horse battery staple"

# Who opens each page (visitor, resident, admin), at which path ({ids} from ``AuditData``).
PAGES = {
    "auth.login": ("visitor", "/auth/login"),
    "auth.register": ("visitor", "/auth/register"),
    "auth.register_sent": ("visitor", "/auth/register/sent"),
    "main.index": ("resident", "/"),
    "wallet.index": ("resident", "/wallet/"),
    "wallet.fund": ("resident", "/wallet/fund?amount=350000"),
    "wallet.result": ("resident", "/wallet/fund/{intent_reference}"),
    "wallet.statement": ("resident", "/wallet/statement"),
    "utility_accounts.index": ("resident", "/accounts/"),
    "utility_accounts.new": ("resident", "/accounts/new"),
    "utility_accounts.rename": ("resident", "/accounts/{account_id}/rename"),
    "utility_accounts.remove": ("resident", "/accounts/{account_id}/remove"),
    "pay.start": ("resident", "/pay/"),
    "pay.status_page": ("resident", "/pay/{payment_id}"),
    "history.index": ("resident", "/payments/"),
    "history.detail": ("resident", "/payments/{payment_id}"),
    "history.receipt": ("resident", "/payments/{payment_id}/receipt"),
    "tokens.index": ("resident", "/tokens/"),
    "automations.index": ("resident", "/automations/"),
    "automations.new": ("resident", "/automations/new"),
    "automations.detail": ("resident", "/automations/{automation_id}"),
    "automations.edit": ("resident", "/automations/{automation_id}/edit"),
    "automations.delete": ("resident", "/automations/{automation_id}/delete"),
    "automations.settings_page": ("resident", "/automations/settings"),
    "automations.upcoming_page": ("resident", "/automations/upcoming"),
    "automations.activity_page": ("resident", "/automations/activity"),
    "estate_bills.index": ("resident", "/bills/"),
    "estate_bills.pay": ("resident", "/bills/{bill_id}/pay"),
    "notifications.index": ("resident", "/notifications/"),
    "notifications.preferences_page": ("resident", "/notifications/preferences"),
    "notifications.outbox_page": ("resident", "/notifications/outbox"),
    "auth.change_password": ("resident", "/auth/password"),
    "households.index": ("resident", "/household/"),
    "admin.index": ("admin", "/admin/"),
    "admin.payments_index": ("admin", "/admin/payments/"),
    "admin.payment_detail": ("admin", "/admin/payments/{unknown_payment_id}"),
    "admin.catalogue_index": ("admin", "/admin/catalogue/"),
    "admin.catalogue_new": ("admin", "/admin/catalogue/new"),
    "admin.catalogue_edit": ("admin", "/admin/catalogue/{entry_id}/edit"),
    "admin.catalogue_sync": ("admin", "/admin/catalogue/sync"),
    "admin.bills_index": ("admin", "/admin/bills/"),
    "admin.bills_new": ("admin", "/admin/bills/new"),
    "admin.bills_statement": ("admin", "/admin/bills/statement"),
    "admin.collections_index": ("admin", "/admin/bills/collections"),
    "admin.bill_plans_index": ("admin", "/admin/bills/plans/"),
    "admin.bill_plans_new": ("admin", "/admin/bills/plans/new"),
    "admin.bill_plan_detail": ("admin", "/admin/bills/plans/{plan_id}"),
    "admin.bill_plan_edit": ("admin", "/admin/bills/plans/{plan_id}/edit"),
    "admin.audit_index": ("admin", "/admin/audit/"),
    "admin.metrics_index": ("admin", "/admin/metrics/"),
    "admin.reconciliation_index": ("admin", "/admin/reconciliation/"),
    "admin.reconciliation_detail": ("admin", "/admin/reconciliation/{run_id}"),
    "admin.admins_index": ("admin", "/admin/admins/"),
    "admin.exports_index": ("admin", "/admin/exports/"),
    "admin.payouts_index": ("admin", "/admin/payouts/"),
    "admin.payouts_new": ("admin", "/admin/payouts/new"),
    "admin.payout_account_new": ("admin", "/admin/payouts/accounts/new"),
    "admin.payout_detail": ("admin", "/admin/payouts/{payout_id}"),
}
LEFT_OUT = {
    "static": "files, not pages",
    "main.healthz": "JSON for load balancers",
    "history.export_csv": "a CSV download",
    "admin.audit_export": "a CSV download",
    "admin.reconciliation_csv": "a CSV download",
    "admin.collections_csv": "a CSV download",
    "admin.exports_ledger_csv": "a CSV download",
    "admin.exports_collections_csv": "a CSV download",
    "admin.exports_workbook": "an XLSX download",
    "utility_accounts.providers": "an HTMX fragment of /accounts/new, audited there",
    "automations.next_payments": "an HTMX fragment of the home page, audited there once loaded",
    "wallet.fund_return": "where a gateway sends the resident back: it redirects to wallet.result",
    "auth.confirm_signup": "needs the emailed link: the journey test opens it",
    "households.accept": "needs the emailed invitation link: tests/test_households.py opens it",
}


@dataclass(frozen=True)
class AuditData:
    email: str
    intent_reference: str
    account_id: int
    payment_id: int
    unknown_payment_id: int
    automation_id: int
    bill_id: int
    entry_id: int
    run_id: int
    plan_id: int
    payout_id: int


@pytest.fixture(scope="module")
def audit_data(live_stack, sandbox) -> AuditData:
    """A resident of the demo estate with something on every page, written to the live database."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import AutomationOccurrence, Estate, UtilityProvider, VirtualAccount
    from webapp.services import funding, ledger, reconciliation
    from webapp.services.notify import notify

    from ..factories import make_user
    from ..factories_automations import make_automation, make_bill_plan, make_estate_bill
    from ..factories_payments import make_payment, make_utility_account
    from ..factories_payouts import make_payout, make_payout_account

    app = live_stack.app()
    with app.app_context():
        estate = db.session.scalars(select(Estate).where(Estate.name == DEMO_ESTATE)).one()
        email = f"audit.{uuid.uuid4().hex[:8]}@example.com"
        resident = make_user(estate, email=email, password=AUDIT_PASSWORD, full_name="Ngozi Adebayo-Okonkwo")
        entry = db.session.scalars(select(UtilityProvider).where(
            UtilityProvider.estate_id == estate.id, UtilityProvider.is_active.is_(True),
            UtilityProvider.meter_type == "prepaid").order_by(UtilityProvider.id)).first()
        # A number no other test links: residents sharing one number trip the fraud rule of other tests.
        account = make_utility_account(resident, entry, number="4509000000001",
                                       nickname="Home meter in the boys' quarters")
        ledger.credit_funding(resident.id, 50_000_00, "paystack", f"AUDIT-{uuid.uuid4().hex}")
        # The wallet's "Fund by bank transfer" with an account (number, copy button, sandbox link);
        # without one it is a button and the usual phone field.
        db.session.add(VirtualAccount(user_id=resident.id, gateway="paystack", customer_code="CUS_audit00000001",
                                      gateway_customer_id="1", account_number="9912345678", bank_name="Test Bank",
                                      account_name="PAYSTACK/Ngozi Adebayo-Okonkwo", active=True))
        db.session.commit()
        with app.test_request_context("/wallet/fund", method="POST", base_url=live_stack.url):  # as the form does
            intent = funding.start_funding(resident, 5_000_00, "paystack",
                                           f"{live_stack.url}/wallet/fund/return/paystack")
        now = datetime.now(UTC)
        paid = make_payment(resident, account, amount_kobo=12_345_67, token="12345678901234567890",
                            created_at=now - timedelta(hours=2))
        # A meter due a key change, and a token long unused: the vault lays out both.
        make_payment(resident, account, amount_kobo=6_000_00, token="11112222333344445555",
                     key_change_token_1="66667777888899990000", key_change_token_2="12123434565678789090",
                     created_at=now - timedelta(days=120))
        make_payment(resident, account, status="failed", created_at=now - timedelta(hours=1))
        unknown = make_payment(resident, account, status="unknown", created_at=now - timedelta(minutes=30))
        automation = make_automation(resident, account, first_run=(now + timedelta(days=3)).replace(
            hour=8, minute=0, second=0, microsecond=0))
        # What autopay did: a run it paid and one a cap stopped (rows as the sweep writes them).
        db.session.add_all([
            AutomationOccurrence(automation_id=automation.id, user_id=resident.id, status="paid",
                                 scheduled_for=paid.created_at, payment_id=paid.id, amount_kobo=paid.amount_kobo),
            AutomationOccurrence(automation_id=automation.id, user_id=resident.id, status="limit_reached",
                                 scheduled_for=now - timedelta(minutes=90),
                                 reason="Your ₦100,000 monthly cap for all automatic payments was reached"),
        ])
        bill = make_estate_bill(resident, amount_kobo=25_000_00, due_date=(now + timedelta(days=10)).date(),
                                title="Service charge, first quarter (security, waste and the borehole)")
        notify(resident.id, "payment_succeeded", title="Payment successful",
               body="Home meter: ₦12,345.67 paid. Token 1234 5678 9012 3456 7890.", link=f"/payments/{paid.id}",
               dedup_key=f"audit:{paid.id}")
        plan = make_bill_plan(estate, (now + timedelta(days=20)).date(), day_of_month=28,
                              title="Service charge for the estate's roads, lights and the borehole")
        # A payout another admin asked for, so the demo admin's page offers Approve and Reject.
        treasurer = make_user(estate, email=f"treasurer.{uuid.uuid4().hex[:8]}@example.com", role="estate_admin",
                              admin_role="finance", full_name="Funmilayo Treasurer-Adeyemi")
        payout = make_payout(make_payout_account(estate, treasurer, account_name="PALM GROVE ESTATE RESIDENTS ASSOC"),
                             treasurer, narration="Security company, November invoice (24-hour guards, 6 posts)")
        db.session.commit()
        runs = reconciliation.reconcile_all(reconciliation.previous_lagos_day(), ("vtpass",))
        data = AuditData(email=email, intent_reference=intent.reference, account_id=account.id, payment_id=paid.id,
                         unknown_payment_id=unknown.id, automation_id=automation.id, bill_id=bill.id,
                         entry_id=entry.id, run_id=runs[0].id, plan_id=plan.id, payout_id=payout.id)
        db.session.remove()
    return data


def _pages_for(role: str, data: AuditData) -> list[tuple[str, str]]:
    return [(endpoint, path.format(**vars(data))) for endpoint, (who, path) in PAGES.items() if who == role]


# What is wrong with the page as laid out: sideways overflow, and (on a phone) small tap targets.
LAYOUT_PROBLEMS = """(phone) => {
  const problems = [];
  const name = (el) => {
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().replace(/\\s+/g, ' ');
    return `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string'
      ? '.' + el.className.trim().split(/\\s+/).join('.') : ''}> "${text.slice(0, 40)}"`;
  };
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    // Name the innermost elements that reach past the right edge: those are what to fix.
    const past = [...document.body.querySelectorAll('*')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1);
    const innermost = past.filter((el) => !past.some((other) => other !== el && el.contains(other)));
    problems.push(`the page is ${root.scrollWidth}px wide: ${innermost.slice(0, 3).map(name).join(', ')}`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (el.matches('input, textarea, select, option, svg, svg *') || el.clientWidth <= 1) continue;
    const overflow = getComputedStyle(el).overflowX;
    if (['auto', 'scroll', 'hidden'].includes(overflow) && el.scrollWidth > el.clientWidth + 1) {
      const edge = el.getBoundingClientRect().right;
      const past = [...el.querySelectorAll('*')].filter((child) => child.getBoundingClientRect().right > edge + 1);
      const innermost = past.filter((child) => !past.some((other) => other !== child && child.contains(other)));
      problems.push(`${name(el)} scrolls sideways inside (${el.scrollWidth}px in ${el.clientWidth}px): `
                    + innermost.slice(0, 3).map(name).join(', '));
    }
  }
  if (!phone) return problems;
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const block = (el) => {
    let node = el.parentElement;
    while (node && getComputedStyle(node).display.startsWith('inline')) node = node.parentElement;
    return node;
  };
  const targets = 'a[href], button, select, summary, input:not([type=hidden]), textarea, [role=button]';
  for (let el of document.body.querySelectorAll(targets)) {
    if (!visible(el)) continue;
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      el = el.closest('label') || document.querySelector(`label[for="${el.id}"]`) || el;  // the label is the target
    }
    const display = getComputedStyle(el).display;
    if (el.tagName === 'A' && display === 'inline') {
      const around = block(el);
      if (around && around.innerText.trim().length > el.innerText.trim().length + 2) continue;  // in a sentence
    }
    const box = el.getBoundingClientRect();
    if (box.width < 44 || box.height < 44) {
      problems.push(`${name(el)} is a ${Math.round(box.width)}x${Math.round(box.height)} px target`);
    }
  }
  return [...new Set(problems)];
}"""


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
@pytest.mark.parametrize("role", ["visitor", "resident", "admin"])
def test_every_page_fits_is_easy_to_tap_and_has_no_accessibility_violation(browser, live_stack, audit_data,
                                                                           role, viewport):
    context = browser.new_context(base_url=live_stack.url, viewport=viewport, locale="en-NG",
                                  timezone_id="Africa/Lagos")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    axe = Axe()
    problems: dict[str, list[str]] = {}
    try:
        if role == "resident":
            sign_in(page, audit_data.email, AUDIT_PASSWORD)
        elif role == "admin":
            sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        for endpoint, path in _pages_for(role, audit_data):
            response = page.goto(path)
            found = [] if response.status == 200 else [f"answered {response.status}"]
            if endpoint == "main.index":  # the "am I covered?" card loads after the page
                expect(page.locator("#next-payments[aria-busy]")).to_have_count(0)
            found += page.evaluate(LAYOUT_PROBLEMS, viewport is PHONE_VIEWPORT)
            result = axe.run(page)
            found += [f"axe {v['id']}: {v['help']} ({len(v['nodes'])}×: {v['nodes'][0]['target']})"
                      for v in result.response["violations"]]
            if found:
                problems[path] = found
    finally:
        context.close()
    assert not problems, "\n".join(f"{path}\n  " + "\n  ".join(found) for path, found in problems.items())


@pytest.mark.browser
def test_the_audit_finds_what_it_looks_for(page):
    """The checks above can fail: a page with a picture without words, a sideways table and a small
    lone link is caught by each of them."""
    page.set_content('<html lang="en"><head><title>Bad</title></head><body><main><img src="x.png">'
                     '<div style="overflow-x:auto;width:200px"><table><tr><td style="white-space:nowrap">'
                     + "wide " * 60 + '</td></tr></table></div><p><a href="/x">Go</a></p></main></body></html>')
    problems = page.evaluate(LAYOUT_PROBLEMS, True)
    assert any("scrolls sideways inside" in p for p in problems) and any('"Go" is a' in p for p in problems)
    assert "image-alt" in {v["id"] for v in Axe().run(page).response["violations"]}


def test_every_page_is_audited_or_left_out_with_a_reason(app):
    # The RQ dashboard (platform admins only) is rq-dashboard's own pages, not ours to lay out.
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.endpoint.startswith("rq_dashboard.")}
    assert pages - PAGES.keys() - LEFT_OUT.keys() == set(), "new pages: add them to PAGES or LEFT_OUT"
    assert (PAGES.keys() | LEFT_OUT.keys()) - pages == set(), "pages that no longer exist"
