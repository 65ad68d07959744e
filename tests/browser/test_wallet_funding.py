"""Issue 3 in a real browser: the demo resident tops up the wallet through each gateway's hosted
checkout (the sandbox's page), comes back, and sees the credit and the statement line."""
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

GATEWAY_CHOICES = {"paystack": "Paystack (card, bank, USSD)", "flutterwave": "Flutterwave (card, bank, USSD)"}


def naira_to_kobo(text: str) -> int:
    return int(Decimal(text.strip().removeprefix("₦").replace(",", "")) * 100)


def wallet_balance_kobo(page) -> int:
    return naira_to_kobo(page.locator("#wallet-balance").inner_text())


def fund_through_checkout(page, live_stack, sandbox, amount: str, gateway: str) -> None:
    """From anywhere in the app: Wallet → Add money → hosted checkout → Pay → back in the app."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Wallet").click()
    page.get_by_role("link", name="Add money").click()
    page.get_by_label("Amount (₦)").fill(amount)
    page.get_by_label(GATEWAY_CHOICES[gateway]).check()
    page.get_by_role("button", name="Continue to payment").click()

    expect(page).to_have_url(re.compile("^" + re.escape(f"{sandbox.url}/checkout/{gateway}/")))
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    expect(page).to_have_url(re.compile("^" + re.escape(f"{live_stack.url}/wallet/fund/")))


@pytest.mark.parametrize("gateway", ["paystack", "flutterwave"])
def test_resident_funds_the_wallet_through_the_hosted_checkout(resident_page, live_stack, sandbox, gateway):
    page = resident_page
    page.goto("/wallet/")
    before = wallet_balance_kobo(page)

    fund_through_checkout(page, live_stack, sandbox, "5,000", gateway)

    expect(page.get_by_text("₦5,000.00 has been added to your wallet.")).to_be_visible()
    page.get_by_role("link", name="Back to wallet").click()
    expected = f"₦{Decimal(before + 5_000_00) / 100:,.2f}"
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
