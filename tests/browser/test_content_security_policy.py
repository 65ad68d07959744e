"""The strict Content-Security-Policy in a real browser: Chromium reports no violation on the pages
residents and admins use, and what used to be inline handlers (the re-send token button's refusal
messages, swapped in from a 429) still works from static/js/app.js."""
import re

import pytest
from playwright.sync_api import expect

from webapp.cli import DEMO_USERS

from .conftest import DEMO_RESIDENT_EMAIL
from .steps import htmx_settled, open_from_menu, sign_in

pytestmark = pytest.mark.browser

ADMIN_EMAIL, ADMIN_PASSWORD = next((e, p) for e, p, *_ in DEMO_USERS if e == "admin@example.com")
TOKEN = "26362054764333554021"


def csp_violations(page) -> list[str]:
    """Collects every violation the page reports (console and the DOM event), from now on."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', (e) => console.error("
                         "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
    return seen


@pytest.fixture(scope="module")
def paid_with_token(live_stack):
    """A paid electricity purchase of the demo resident with its token (written directly, once:
    a removed account keeps its number, so it cannot be linked again)."""
    from sqlalchemy import select

    from tests.factories_payments import make_payment, make_utility_account
    from webapp.extensions import db
    from webapp.models import UtilityProvider
    from webapp.services import utility_accounts
    from webapp.services.identity import credentials

    with live_stack.app().app_context():
        ada = credentials.find_user_by_email(DEMO_RESIDENT_EMAIL)
        entry = db.session.scalar(select(UtilityProvider).where(
            UtilityProvider.estate_id == ada.estate_id, UtilityProvider.provider_type == "electricity",
            UtilityProvider.is_active.is_(True)).limit(1))
        if entry is None:
            pytest.skip("the demo estate has no electricity provider in its catalogue")
        account = make_utility_account(ada, entry, "7045612378901", nickname="CSP meter")
        payment_id = make_payment(ada, account, token=TOKEN).id
        ada_id, account_id = ada.id, account.id
    yield payment_id
    with live_stack.app().app_context():
        utility_accounts.remove(ada_id, account_id)


def test_resident_pages_run_without_a_policy_violation(resident_page, paid_with_token):
    page = resident_page
    violations = csp_violations(page)
    for path in ("/", "/wallet/", "/wallet/fund", "/payments/", f"/payments/{paid_with_token}",
                 f"/payments/{paid_with_token}/receipt", "/accounts/new", "/pay/", "/notifications/",
                 "/automations/new"):
        page.goto(path)
        page.wait_for_load_state("load")
    assert violations == []


def test_the_resend_button_shows_the_slow_down_message_from_a_429(resident_page, paid_with_token):
    page = resident_page
    violations = csp_violations(page)
    page.goto(f"/payments/{paid_with_token}")
    button = page.get_by_role("button", name="Send the token to my email and inbox")
    result = page.locator("#resend-token-result")
    for _ in range(5):  # 3 per minute are allowed; the next is refused with 429
        with page.expect_response(re.compile(r"/resend-token$")) as answer:
            button.click()
        htmx_settled(page)
        if answer.value.status == 429:
            break
    assert answer.value.status == 429
    expect(result).to_contain_text("Wait a little and try again")
    assert page.url.endswith(f"/payments/{paid_with_token}")  # swapped in, no navigation
    assert violations == []


def test_admin_pages_run_without_a_policy_violation(page, live_stack):
    violations = csp_violations(page)
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    for name in ("Catalogue", "Bills", "Payments", "Reconciliation", "Metrics", "Audit", "Overview"):
        open_from_menu(page, name)
        page.wait_for_load_state("load")
    assert violations == []
