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
