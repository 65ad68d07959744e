"""Residents mostly use phones: pages fit a 390 px wide screen without sideways scrolling."""
import re

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


def test_a_phone_keeps_the_most_used_links_in_a_bottom_bar_and_more_unfolds_the_rest(resident_page):
    page = resident_page
    nav = page.get_by_role("navigation", name="Main")
    more = nav.get_by_role("button", name="More")
    wallet = nav.get_by_role("link", name="Wallet", exact=True)
    viewport = page.viewport_size

    for name in ("Home", "Pay", "Automations", "History"):
        link = nav.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["y"] + box["height"] >= viewport["height"] - 2, f"{name} is not in the bar along the bottom"
        assert box["height"] >= 44 and box["width"] >= 44, f"{name} is a {box['width']}x{box['height']} px target"
    expect(nav.get_by_role("link", name="Home", exact=True)).to_have_attribute("aria-current", "page")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(wallet).to_be_hidden()

    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(wallet).to_be_visible()
    wallet.click()
    expect(page).to_have_url(re.compile(r"/wallet/$"))
    # Folded again on the new page, the More button is marked as where the current page lives.
    expect(more).to_have_class(re.compile(r"\bis-current\b"))
    expect(page.locator("#nav-more a[aria-current=page]")).to_have_attribute("href", re.compile(r"/wallet/$"))


def test_a_desktop_shows_the_whole_menu_in_the_header_with_no_more_button(resident_page):
    page = resident_page
    page.set_viewport_size({"width": 1280, "height": 800})
    nav = page.get_by_role("navigation", name="Main")

    expect(nav.get_by_role("button", name="More")).to_be_hidden()
    for name in ("Home", "Pay", "Automations", "History", "Wallet", "Accounts", "Bills", "Upcoming"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert nav.bounding_box()["y"] < 100, "the menu is not in the header"
