"""Issue 4 in a real browser: the demo resident links a prepaid meter, tops up the wallet through
the sandbox checkout, pays ₦5,000 (the real RQ worker buys it from the sandbox) and sees the token."""
import re

import pytest
from playwright.sync_api import expect

from .conftest import DEMO_RESIDENT_EMAIL
from .steps import fund_through_checkout, link_account, pay_account

pytestmark = pytest.mark.browser

METER = "1111111111111"  # the sandbox's valid prepaid meter of "Ada Okafor": succeeds with a token
PROVIDER = "IKEDC Prepaid (via VTpass)"
TOKEN_IN_GROUPS_OF_FOUR = re.compile(r"^\s*\d{4}(\s+\d{4}){4}\s*$")


@pytest.fixture
def no_linked_accounts(live_stack):
    """Start from a resident with no linked accounts, whatever earlier tests linked (history kept)."""
    from webapp.services import utility_accounts
    from webapp.services.identity import credentials

    with live_stack.app().app_context():
        ada = credentials.find_user_by_email(DEMO_RESIDENT_EMAIL)
        for account in utility_accounts.list_accounts(ada.id):
            utility_accounts.remove(ada.id, account.id)


def test_resident_links_a_meter_funds_the_wallet_pays_and_sees_the_token(
        resident_page, live_stack, sandbox, no_linked_accounts):
    page = resident_page
    link_account(page, "electricity", PROVIDER, "Meter Number", METER, "Home meter", holder="Ada Okafor")
    fund_through_checkout(page, live_stack.url, sandbox.url, "10,000", "paystack")
    expect(page.get_by_text("₦10,000.00 has been added to your wallet.")).to_be_visible()

    pay_account(page, "Home meter", "5000")

    # The worker pays in the background and the status element polls every 2 s: on a busy machine
    # that takes longer than Playwright's default 5 s.
    expect(page.get_by_text("Paid.")).to_be_visible(timeout=30_000)
    expect(page.locator("#token")).to_have_text(TOKEN_IN_GROUPS_OF_FOUR)
    expect(page.get_by_role("button", name="Copy token")).to_be_visible()
