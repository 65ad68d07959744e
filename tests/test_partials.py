"""The page or one block of it (webapp.presentation.partials), through real pages: the whole page
without HTMX, the swapped region alone with it, and the whole page again for a history restore."""
from __future__ import annotations

import re

import pytest

from .factories_payments import make_payment

HTMX = {"HX-Request": "true"}
HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
CSRF_VALUE = re.compile(r'(name="csrf_token" value=")[^"]*(")')

# page -> (its URL for a payment, an id only the swapped region carries)
REGIONS = {
    "history results": (lambda payment: "/payments/", 'id="history-count"'),
    "inbox": (lambda payment: "/notifications/", 'id="notification-count"'),
    "payment status": (lambda payment: f"/pay/{payment.id}", 'id="payment-status"'),
}


@pytest.fixture(params=list(REGIONS.values()), ids=list(REGIONS))
def region(request, resident, meter) -> tuple[str, str]:
    url_for_payment, mark = request.param
    return url_for_payment(make_payment(resident, meter)), mark


def body(response) -> str:
    assert response.status_code == 200
    return CSRF_VALUE.sub(r"\1\2", response.get_data(as_text=True))


def test_without_htmx_the_whole_page_comes(logged_in, region):
    url, mark = region
    html = body(logged_in.get(url))
    assert html.startswith("<!doctype html>") and 'class="site-header"' in html and mark in html


def test_htmx_gets_only_the_region_and_it_is_the_pages_own_markup(logged_in, region):
    url, mark = region
    fragment = body(logged_in.get(url, headers=HTMX))
    assert "<html" not in fragment and 'class="site-header"' not in fragment and mark in fragment
    assert fragment.strip() in body(logged_in.get(url))


def test_a_history_restore_gets_the_whole_page(logged_in, region):
    # htmx swaps a history restore's answer in place of the whole body, so a fragment would blank the page.
    url, mark = region
    html = body(logged_in.get(url, headers=HISTORY_RESTORE))
    assert html.startswith("<!doctype html>") and 'class="site-header"' in html and mark in html


@pytest.mark.parametrize("headers", [{}, HTMX, HISTORY_RESTORE], ids=["page", "htmx", "history restore"])
def test_every_rendering_says_it_varies_on_the_htmx_headers(logged_in, region, headers):
    response = logged_in.get(region[0], headers=headers)
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-History-Restore-Request" in response.headers["Vary"]  # a restore sends HX-Request too


def test_an_error_for_htmx_is_a_short_alert_and_for_a_history_restore_the_error_page(logged_in):
    alert = logged_in.get("/payments/999999", headers=HTMX)
    text = alert.get_data(as_text=True)
    assert alert.status_code == 404 and "<html" not in text
    assert text.startswith('<p class="alert alert-error" role="alert"><strong>Page not found.</strong>')
    assert "HX-Request" in alert.headers["Vary"]
    page = logged_in.get("/payments/999999", headers=HISTORY_RESTORE)
    assert page.status_code == 404 and 'class="card narrow error-page"' in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)
