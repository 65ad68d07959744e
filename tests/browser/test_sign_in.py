"""Issue 2 in a real browser: the demo resident signs in and out; a wrong password is refused."""
import re

import pytest
from playwright.sync_api import expect

from webapp.services.identity.credentials import GENERIC_LOGIN_ERROR

from .conftest import DEMO_RESIDENT_EMAIL, DEMO_RESIDENT_PASSWORD
from .steps import open_menu, sign_in

pytestmark = pytest.mark.browser


def test_demo_resident_signs_in_and_sees_the_dashboard(page):
    sign_in(page, DEMO_RESIDENT_EMAIL, DEMO_RESIDENT_PASSWORD)

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Hello, Ada")).to_be_visible()
    open_menu(page)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_sign_out_button_posts_and_ends_the_session(resident_page):
    page = resident_page

    open_menu(page)
    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/auth/login$"))
    expect(page.get_by_text("You have signed out on every device.")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/auth/login(\?next=%2F)?$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_shows_the_generic_message(page):
    sign_in(page, DEMO_RESIDENT_EMAIL, "not-the-password-1")

    expect(page.get_by_role("alert")).to_have_text(GENERIC_LOGIN_ERROR)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_unknown_email_gets_the_same_message_as_a_wrong_password(page):
    sign_in(page, "nobody@example.com", DEMO_RESIDENT_PASSWORD)

    expect(page.get_by_role("alert")).to_have_text(GENERIC_LOGIN_ERROR)

