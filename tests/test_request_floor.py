"""What every signed-in request pays for stays what it was when made cheaper: the same headers on
every response, the user still read afresh (so a bumped session version still signs out), and the
layout's links the URLs ``url_for`` gives, under any mount point.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Response, url_for
from sqlalchemy import update

from webapp.extensions import db
from webapp.models import User
from webapp.presentation.templating import fixed_url
from webapp.response_headers import CONTENT_SECURITY_POLICY, HSTS

from .sql_counting import counted_statements, fetch
from .test_production_mode import PRODUCTION

ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
PRIVATE = {**ALWAYS, "Cache-Control": "no-store"}
NAV_ENDPOINTS = ["main.index", "wallet.index", "history.index", "utility_accounts.index", "pay.start",
                 "estate_bills.index", "automations.index", "automations.upcoming_page", "notifications.index",
                 "auth.change_password", "auth.logout"]


def own_context(call):
    """A request as a server runs it: a fresh app context, so a fresh database session and ``g``."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def security_headers(response) -> dict[str, str]:
    names = [*ALWAYS, "Cache-Control", "Strict-Transport-Security"]
    return {name: response.headers[name] for name in names if name in response.headers}


# Headers

@pytest.mark.parametrize(("path", "htmx", "status"), [
    ("/", False, 200),
    ("/notifications/", False, 200),
    ("/notifications/", True, 200),
    ("/payments/999999", False, 404),
    ("/auth/login", False, 302),  # signed in: sent home
])
def test_signed_in_responses_carry_every_security_header(logged_in, path, htmx, status):
    response = logged_in.get(path, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == status
    assert security_headers(response) == PRIVATE


def test_the_sign_in_page_carries_every_security_header_and_is_not_stored(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert security_headers(response) == PRIVATE


def test_an_anonymous_redirect_carries_the_headers_but_may_be_stored(client):
    response = client.get("/wallet/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert security_headers(response) == ALWAYS


def test_static_files_carry_the_headers_and_stay_cacheable(logged_in):
    response = logged_in.get("/static/css/app.css")
    assert response.status_code == 200
    assert {k: v for k, v in security_headers(response).items() if k != "Cache-Control"} == ALWAYS
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_headers_are_identical_from_one_response_to_the_next(logged_in):
    first, second = (logged_in.get("/") for _ in range(2))
    assert security_headers(first) == security_headers(second) == PRIVATE


@pytest.mark.parametrize("config_overrides", [PRODUCTION], ids=["production"])
def test_in_production_hsts_joins_the_headers(client):
    response = client.get("/auth/login")
    assert security_headers(response) == {**PRIVATE, "Strict-Transport-Security": HSTS}


def test_vary_names_the_htmx_headers_then_the_cookie(logged_in):
    assert logged_in.get("/").headers["Vary"] == "HX-Request, HX-History-Restore-Request, Cookie"


@pytest.mark.fresh_app
def test_a_vary_set_by_the_view_is_kept_and_extended(app, client):
    app.add_url_rule("/_probe/vary", "probe_vary", lambda: Response("ok", headers={"Vary": "Accept-Language"}))
    vary = client.get("/_probe/vary").headers["Vary"]
    assert vary == "Accept-Language, HX-Request, HX-History-Restore-Request, Cookie"


# The user, read on every request

def test_the_user_costs_one_statement_with_nothing_else_loaded(logged_in):
    fetch(logged_in, "/auth/password")  # warm up
    with counted_statements() as statements:
        assert fetch(logged_in, "/auth/password").status_code == 200
    queries = [s for s in statements if s.strip().upper() != "BEGIN"]
    assert len(queries) == 2, "\n".join(queries)  # the user, the nav's unread count
    assert queries[0].lstrip().startswith("SELECT users.") and "JOIN" not in queries[0]


def test_a_session_version_bumped_behind_the_apps_back_signs_the_user_out(logged_in, resident):
    assert own_context(lambda: logged_in.get("/")).status_code == 200
    db.session.execute(update(User).where(User.id == resident.id).values(session_version=User.session_version + 1))
    db.session.commit()
    response = own_context(lambda: logged_in.get("/"))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_deactivated_user_is_signed_out_on_the_next_request(logged_in, resident):
    db.session.execute(update(User).where(User.id == resident.id).values(is_active_flag=False))
    db.session.commit()
    response = own_context(lambda: logged_in.get("/"))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("user_id", ["²", "٣", "-1", "0", "99999999999999999999", "1 ", ""])
def test_a_user_id_that_is_not_a_row_id_is_nobody(logged_in, user_id):
    with logged_in.session_transaction() as session:
        session["_user_id"] = user_id
    response = own_context(lambda: logged_in.get("/"))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# The layout's fixed links

def test_fixed_urls_are_what_url_for_gives(app):
    with app.test_request_context("/"):
        for endpoint in NAV_ENDPOINTS:
            assert fixed_url(endpoint) == url_for(endpoint)
        assert fixed_url("static", filename="css/app.css") == url_for("static", filename="css/app.css")


def test_fixed_urls_follow_the_mount_point(app):
    with app.test_request_context("/", base_url="http://autopay.test/autopay/"):
        assert fixed_url("wallet.index") == "/autopay/wallet/"
        assert fixed_url("static", filename="js/app.js") == "/autopay/static/js/app.js"
    with app.test_request_context("/"):
        assert fixed_url("wallet.index") == "/wallet/"


def test_the_layout_links_under_a_mount_point(logged_in):
    html = logged_in.get("/", base_url="http://autopay.test/autopay/").get_data(as_text=True)
    assert '<li><a href="/autopay/wallet/"><span>Wallet</span></a></li>' in html
    assert 'href="/autopay/static/css/app.css"' in html


def test_the_layout_renders_the_same_links_as_url_for_would(app, logged_in, resident):
    with app.test_request_context("/"):
        expected = [url_for(endpoint) for endpoint in NAV_ENDPOINTS]
    html = logged_in.get("/").get_data(as_text=True)
    for url in expected:
        assert f'"{url}"' in html, url

