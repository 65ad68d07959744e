"""Steps a resident takes in the browser, shared by the journeys (what a person clicks, not URLs)."""
from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

GATEWAY_CHOICES = {"paystack": "Paystack (card, bank, USSD)", "flutterwave": "Flutterwave (card, bank, USSD)"}


def naira_to_kobo(text: str) -> int:
    return int(Decimal(text.strip().removeprefix("₦").replace(",", "")) * 100)


def naira(kobo: int) -> str:
    return f"₦{Decimal(kobo) / 100:,.2f}"


def sign_in(page, email: str, password: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_menu(page) -> None:
    """On a phone the rest of the main menu is folded behind the bottom bar's "More"; unfold it if so."""
    page.wait_for_load_state("domcontentloaded")  # app.js decides on DOMContentLoaded whether the menu folds
    toggle = page.get_by_role("button", name="More")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()


def open_from_menu(page, name: str) -> None:
    link = page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
    # app.js folds the menu on DOMContentLoaded, after the deferred scripts ran: until then the menu
    # shows open, and a link seen visible then is hidden by the time it is clicked (busy machines).
    page.wait_for_load_state("domcontentloaded")
    # Wait for the page to show its menu (the link, or on a phone the More button folding it): checking the
    # button before the page after a redirect has rendered would skip unfolding it.
    # A page still setting itself up can hide the link for a moment: look again a few times.
    for _ in range(3):
        expect(link.or_(page.get_by_role("button", name="More")).first).to_be_visible()
        if link.is_visible():
            break
        open_menu(page)
        try:
            expect(link).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            continue
    link.click()


def htmx_settled(page) -> None:
    """Wait until no HTMX request is in flight (htmx marks the request indicator until it has swapped).

    Needed where a swap replaces the element a test acts on next: htmx drops the answer to a request
    whose element was swapped out meanwhile, and new content listens only once htmx has settled it
    (until then it carries htmx-swapping, htmx-settling or htmx-added).
    """
    page.wait_for_function(
        "() => document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added') === null")


def link_account(page, utility_type: str, provider: str, number_label: str, number: str, nickname: str,
                 holder: str) -> None:
    """Accounts → Link an account → type, provider, number (checked inline: ``holder`` shown) → save."""
    open_from_menu(page, "Accounts")
    page.get_by_role("link", name="Link an account").click()
    page.wait_for_url(re.compile(r"/accounts/new"))
    page.wait_for_load_state("load")  # htmx (a deferred script) listens only once the page has loaded
    with page.expect_response(re.compile(r"/accounts/new/providers")):
        page.get_by_label("What do you want to pay for?").select_option(utility_type)
    htmx_settled(page)
    with page.expect_response(re.compile(r"/accounts/new/providers")):
        page.get_by_label("Provider", exact=True).select_option(label=provider)
    htmx_settled(page)
    page.get_by_label(number_label).fill(number)
    page.get_by_label(number_label).press("Tab")
    expect(page.locator("#customer-preview")).to_contain_text(holder)
    page.get_by_label("Nickname (optional)").fill(nickname)
    page.get_by_role("button", name="Check and save").click()
    expect(page.get_by_role("heading", name=nickname)).to_be_visible()


def pay_account(page, nickname: str, amount: str) -> None:
    """Pay → the account by its nickname → amount → Review → Confirm (the worker then buys it)."""
    open_from_menu(page, "Pay")
    account = page.get_by_label("Account")
    account.select_option(label=account.locator("option", has_text=nickname).inner_text())
    page.get_by_label("Amount (₦)").fill(amount)
    page.get_by_role("button", name="Review payment").click()
    expect(page.get_by_role("heading", name="Confirm payment")).to_be_visible()
    expect(page.locator("dl.summary")).to_contain_text(naira(naira_to_kobo(amount)))
    page.get_by_role("button", name=re.compile(r"^Confirm and pay ₦")).click()


def fund_through_checkout(page, app_url: str, sandbox_url: str, amount: str, gateway: str) -> None:
    """Wallet → Add money → the gateway's hosted checkout → Pay → back on the app's result page."""
    open_from_menu(page, "Wallet")
    page.get_by_role("link", name="Add money").click()
    page.get_by_label("Amount (₦)").fill(amount)
    page.get_by_label(GATEWAY_CHOICES[gateway]).check()
    page.get_by_role("button", name="Continue to payment").click()

    expect(page).to_have_url(re.compile("^" + re.escape(f"{sandbox_url}/checkout/{gateway}/")))
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    expect(page).to_have_url(re.compile("^" + re.escape(f"{app_url}/wallet/fund/")))
