"""The walk-through as one journey on a phone: a new resident signs up with the estate's invite code,
links a postpaid account (and sees what it owes) and a prepaid meter, tops up (a declined card first),
pays the meter and copies the token from the home screen, automates the next payment and finds it on
Upcoming; an estate admin on a desktop refunds the payment with a reason, and the resident's payment
page says why, naming who did what.

Everything is real: the web server, the RQ worker buying from the sandbox over HTTP, the sandbox's
hosted checkout, and the sign-up email's link (read from the outbox the email worker sends from).
"""
import re
import uuid

import pytest
from playwright.sync_api import expect

from webapp.cli import DEMO_INVITE_CODE, DEMO_USERS

from .conftest import TIMEOUT_MS
from .steps import fund_through_checkout, link_account, open_from_menu, pay_account, sign_in

pytestmark = pytest.mark.browser

POSTPAID = "1010101010101"  # the sandbox's postpaid account of "Emeka Nwosu", ₦12,500.00 outstanding
METER = "1111111111111"  # the sandbox's prepaid meter of "Ada Okafor": a purchase succeeds with a token
PASSWORD = "correct horse battery staple"
ADMIN_EMAIL, ADMIN_PASSWORD = next((e, p) for e, p, *_ in DEMO_USERS if e == "admin@example.com")
TOKEN = re.compile(r"\d{4}( \d{4}){4}")
REASON = "The token did not load on the meter; buy again once IKEDC confirms the fix."


def confirmation_path(live_stack, email: str) -> str:
    """The link in the sign-up email, as the resident would open it (written in the sign-up's transaction)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import EmailMessage

    with live_stack.app().app_context():
        body = db.session.scalars(select(EmailMessage.body_text).where(EmailMessage.to_address == email)).one()
        db.session.remove()
    return re.search(r"https?://[^/\s]+(/\S*/register/confirm/\S+)", body).group(1)


def sign_up(page, live_stack, email: str) -> None:
    page.goto("/auth/login")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Full name").fill("Chidi Eze")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Estate invite code").fill(DEMO_INVITE_CODE)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(re.compile("email", re.I)).first).to_be_visible()

    page.goto(confirmation_path(live_stack, email))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Open my account").click()
    expect(page.get_by_text("Welcome to Palm Grove")).to_be_visible()


def test_a_new_resident_signs_up_pays_automates_and_reads_the_admins_refund(page, browser, live_stack, sandbox):
    email = f"chidi.{uuid.uuid4().hex[:8]}@example.com"
    sign_up(page, live_stack, email)

    # Linking the postpaid account shows what the provider says it owes.
    link_account(page, "electricity", "IKEDC Postpaid (via VTpass)", "Meter Number", POSTPAID, "Office",
                 holder="Emeka Nwosu")
    expect(page.get_by_text("₦12,500.00").first).to_be_visible()
    link_account(page, "electricity", "IKEDC Prepaid (via VTpass)", "Meter Number", METER, "Home meter",
                 holder="Ada Okafor")

    # A declined card says so and adds nothing; then a top-up that goes through.
    fund_through_checkout(page, live_stack.url, sandbox.url, "113.13", "paystack")
    expect(page.locator("[data-status=failed]")).to_be_visible()
    expect(page.get_by_role("link", name="Try again")).to_be_visible()
    fund_through_checkout(page, live_stack.url, sandbox.url, "10,000", "flutterwave")
    expect(page.get_by_text("₦10,000.00 has been added to your wallet.")).to_be_visible()

    pay_account(page, "Home meter", "2500")
    expect(page.get_by_text("Paid.")).to_be_visible(timeout=30_000)  # the worker buys it in the background
    token = page.locator("#token").inner_text().strip()
    assert TOKEN.fullmatch(token), token
    payment_path = re.search(r"/pay/\D*(\d+)", page.url)

    # Home: the meter's latest token, copied in one tap; the next 7 days (nothing automated yet).
    open_from_menu(page, "Home")
    tokens = page.locator("#meter-tokens")
    expect(tokens).to_contain_text(token)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_stack.url)
    tokens.get_by_role("button", name="Copy the token for Home meter").click()
    expect(tokens.get_by_role("button", name="Copy the token for Home meter")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token.replace(" ", "")
    expect(page.locator("#next-payments")).to_contain_text("Nothing is due in the next 7 days.")

    # Automate the next payment to the meter; Upcoming shows it.
    open_from_menu(page, "Automations")
    page.get_by_role("link", name=re.compile(r"^New automation")).first.click()
    target = page.get_by_label("Pay for")
    target.select_option(label=target.locator("option", has_text="Home meter").inner_text())
    page.get_by_label("Fixed amount (₦)").fill("3000")
    page.get_by_role("button", name=re.compile(r"^Save")).click()
    page.get_by_role("button", name=re.compile(r"^Turn on")).click()
    open_from_menu(page, "Upcoming")
    expect(page.locator("main")).to_contain_text("Home meter")
    expect(page.locator("main")).to_contain_text("₦3,000.00")

    # The estate admin refunds the payment, on a desktop, with a reason.
    open_from_menu(page, "History")
    page.locator("table.payments tbody tr").first.get_by_role("link").first.click()
    resident_payment_url = page.url
    payment_id = re.search(r"/payments/(\d+)", resident_payment_url).group(1)
    assert payment_path is None or payment_path.group(1) == payment_id
    admin = browser.new_context(base_url=live_stack.url, viewport={"width": 1280, "height": 800},
                                locale="en-NG", timezone_id="Africa/Lagos")
    admin.set_default_timeout(TIMEOUT_MS)
    try:
        desk = admin.new_page()
        sign_in(desk, ADMIN_EMAIL, ADMIN_PASSWORD)
        desk.goto(f"/admin/payments/{payment_id}")
        desk.get_by_label("Reason for the refund (the resident sees it)").fill(REASON)
        refund = desk.get_by_role("button", name=re.compile(r"^Refund ₦"))
        refunded = refund.inner_text().removeprefix("Refund ").strip()  # the amount and the fee
        refund.click()
        expect(desk.get_by_text("Refunded to the resident's wallet")).to_be_visible()
    finally:
        admin.close()

    page.reload()
    expect(page.locator("#refund-line")).to_contain_text(f"{refunded} is back in your wallet")
    expect(page.locator("#refund-line")).to_contain_text(REASON)
    timeline = page.locator("main")
    expect(timeline).not_to_contain_text(re.compile(r"\((user:\d+|system)\)"))
