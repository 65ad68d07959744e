"""Issue 3 in a real browser: the demo resident tops up the wallet through each gateway's hosted
checkout (the sandbox's page), comes back, and sees the credit and the statement line."""
import pytest
from playwright.sync_api import expect

from .steps import GATEWAY_CHOICES, fund_through_checkout, naira, naira_to_kobo

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("gateway", ["paystack", "flutterwave"])
def test_resident_funds_the_wallet_through_the_hosted_checkout(resident_page, live_stack, sandbox, gateway):
    page = resident_page
    page.goto("/wallet/")
    before = naira_to_kobo(page.locator("#wallet-balance").inner_text())

    fund_through_checkout(page, live_stack.url, sandbox.url, "5,000", gateway)

    expect(page.get_by_text("₦5,000.00 has been added to your wallet.")).to_be_visible()
    page.get_by_role("link", name="Back to wallet").click()
    expected = naira(before + 5_000_00)
    expect(page.locator("#wallet-balance")).to_have_text(expected)
    newest_line = page.locator("table tbody tr").first
    expect(newest_line).to_contain_text("+₦5,000.00")
    expect(newest_line).to_contain_text(expected)


def test_sandbox_checkout_shows_the_amount_the_resident_typed(resident_page, sandbox):
    page = resident_page
    page.goto("/wallet/fund")
    page.get_by_label("Amount (₦)").fill("5000")
    page.get_by_label(GATEWAY_CHOICES["paystack"]).check()

    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("button", name="Pay ₦5,000.00")).to_be_visible()
