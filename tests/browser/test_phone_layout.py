"""Residents mostly use phones: pages fit a 390 px wide screen without sideways scrolling."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FITS_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"


def test_login_page_fits_a_phone_screen(page):
    page.goto("/auth/login")

    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate(FITS_WIDTH)


@pytest.mark.parametrize("path", ["/", "/wallet/", "/wallet/fund", "/accounts/", "/pay/"])
def test_resident_pages_fit_a_phone_screen(resident_page, path):
    page = resident_page

    response = page.goto(path)

    assert response.status == 200, f"{path} answered {response.status}"
    assert page.evaluate(FITS_WIDTH), f"{path} scrolls sideways on a phone"


def test_the_menu_folds_behind_a_button_on_a_phone_and_there_is_no_button_on_a_desktop(resident_page):
    page = resident_page
    menu = page.get_by_role("button", name="Menu")
    wallet = page.locator("#nav-list").get_by_role("link", name="Wallet")

    expect(menu).to_be_visible()
    expect(wallet).to_be_hidden()
    menu.click()
    expect(wallet).to_be_visible()

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(menu).to_be_hidden()
    expect(wallet).to_be_visible()
