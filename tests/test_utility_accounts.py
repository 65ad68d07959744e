"""Residents link utility accounts (issue 4, item 1), against the real provider sandbox over HTTP."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra import crypto
from webapp.models import Payment, ProviderCallLog, UtilityAccount
from webapp.models.base import utcnow
from webapp.providers.base import CustomerInfo
from webapp.services import utility_accounts

from .factories import make_estate, make_user
from .factories_payments import make_catalogue_entry, make_payment, make_utility_account

ADA_METER = "1111111111111"
UNKNOWN_METER = "9999999999999"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def config_overrides(sandbox_config):
    return sandbox_config


@pytest.fixture
def ikeja(estate):
    return make_catalogue_entry(estate)


@pytest.fixture
def dstv(estate):
    return make_catalogue_entry(
        estate, name="DStv Compact", provider_type="cable_tv", provider_code="dstv", item_code="dstv-compact",
        biller_name="DSTV", meter_type=None, label_name="Smart Card Number", fixed_amount_kobo=19_000_00,
        min_amount_kobo=19_000_00, max_amount_kobo=19_000_00,
    )


@pytest.fixture
def signed_in(auth, resident):
    auth.login(resident.email)
    return auth


def link(auth, entry, number, nickname="Home meter", **kwargs):
    data = {"utility_type": entry.provider_type, "provider_id": entry.id, "customer_number": number,
            "nickname": nickname}
    return auth.post("/accounts/new", data, **kwargs)


def check(auth, entry, number, headers=None):
    """The inline check, as HTMX sends it: the CSRF token in a header, the form's fields in the body."""
    token = auth.csrf("/accounts/new")
    return auth.client.post(
        "/accounts/new/validate",
        data={"utility_type": entry.provider_type, "provider_id": entry.id, "customer_number": number},
        headers={"X-CSRFToken": token, **(headers or {})},
    )


def account_count() -> int:
    return db.session.scalar(select(func.count()).select_from(UtilityAccount))


def provider_call_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ProviderCallLog))


def page(response) -> str:
    return response.get_data(as_text=True)


# --- linking ---------------------------------------------------------------------------------

@pytest.mark.parametrize("api_provider, codes", [
    ("vtpass", {"provider_code": "ikeja-electric", "item_code": "prepaid"}),
    ("flutterwave", {"provider_code": "BIL112", "item_code": "UB157"}),
])
def test_linking_a_meter_stores_the_customer_the_provider_confirmed(signed_in, estate, api_provider, codes):
    entry = make_catalogue_entry(estate, api_provider=api_provider, **codes)
    response = link(signed_in, entry, ADA_METER, follow_redirects=True)
    assert response.status_code == 200
    assert "Ada Okafor" in page(response)
    account = db.session.scalars(select(UtilityAccount)).one()
    assert (account.nickname, account.customer_name, account.number_last4) == ("Home meter", "Ada Okafor", "1111")
    assert account.meter_type == "prepaid" and account.validated_at is not None


def test_a_blank_nickname_becomes_the_provider_and_last_four_digits(signed_in, ikeja):
    link(signed_in, ikeja, ADA_METER, nickname="")
    assert db.session.scalars(select(UtilityAccount.nickname)).one() == "Ikeja Electric Prepaid 1111"


def test_an_unknown_meter_is_refused_with_a_clear_message_and_nothing_saved(signed_in, ikeja):
    response = link(signed_in, ikeja, UNKNOWN_METER)
    assert response.status_code == 422
    assert "No customer found for this meter number" in page(response)
    assert account_count() == 0


@pytest.mark.parametrize("number, message", [
    ("11111111111AB", "Meter Number must contain digits only"),
    ("123456789", "Meter Number must be 10 to 13 digits"),
    ("12345678901234", "Meter Number must be 10 to 13 digits"),
    ("   ", "Enter the Meter Number"),
])
def test_a_malformed_number_is_refused_before_asking_the_provider(signed_in, ikeja, number, message):
    response = link(signed_in, ikeja, number)
    assert response.status_code == 422
    assert message in page(response)
    assert account_count() == 0
    assert provider_call_count() == 0


def test_asking_the_provider_is_logged_so_the_no_call_checks_can_fail(signed_in, ikeja):
    check(signed_in, ikeja, ADA_METER, HTMX)
    calls = db.session.scalars(select(ProviderCallLog)).all()
    assert [(c.provider, c.operation) for c in calls] == [("vtpass", "validate")]
    assert ADA_METER not in (calls[0].request_body or "") + calls[0].url


def test_the_error_names_the_providers_label(signed_in, dstv):
    response = link(signed_in, dstv, "12345")
    assert "Smart Card Number must be 10 to 13 digits" in page(response)


def test_the_same_number_twice_is_refused_however_it_is_spaced(signed_in, ikeja):
    assert link(signed_in, ikeja, ADA_METER).status_code == 302
    for spaced in ("1111 1111 1111 1", "1111-1111-11111", " 1111111111111 "):
        response = link(signed_in, ikeja, spaced, nickname="Again")
        assert response.status_code == 422
        assert "You have already linked this meter number as “Home meter”" in page(response)
    assert account_count() == 1
    assert provider_call_count() == 1  # refused before asking the provider again


def test_the_database_refuses_a_second_live_row_for_the_same_number(resident, ikeja):
    make_utility_account(resident, ikeja, ADA_METER)
    with pytest.raises(IntegrityError):
        make_utility_account(resident, ikeja, ADA_METER)
    db.session.rollback()


def test_the_same_number_may_be_linked_by_another_resident(auth, ikeja, resident, other_resident):
    make_utility_account(other_resident, ikeja, ADA_METER)
    auth.login(resident.email)
    assert link(auth, ikeja, ADA_METER).status_code == 302
    assert account_count() == 2


def test_several_accounts_per_resident(signed_in, ikeja, dstv):
    assert link(signed_in, ikeja, ADA_METER).status_code == 302
    assert link(signed_in, dstv, "7012345678", nickname="Living room DStv").status_code == 302
    listing = page(signed_in.client.get("/accounts/"))
    assert "Home meter" in listing and "Living room DStv" in listing


def test_the_number_is_encrypted_at_rest_with_a_lookup_hash(signed_in, ikeja):
    link(signed_in, ikeja, "2345 6789 04521")
    stored_number, stored_hash = db.session.execute(
        text("SELECT customer_number, number_hash FROM utility_accounts")
    ).one()
    assert "2345678904521" not in stored_number and "04521" not in stored_number
    assert stored_hash == crypto.lookup_hash("2345678904521")
    assert db.session.scalars(select(UtilityAccount)).one().customer_number == "2345678904521"


def test_save_validates_again_instead_of_trusting_the_preview(signed_in, ikeja):
    assert "Ada Okafor" in page(check(signed_in, ikeja, ADA_METER, HTMX))
    response = link(signed_in, ikeja, UNKNOWN_METER)
    assert response.status_code == 422 and account_count() == 0


def test_a_provider_that_cannot_be_reached_gets_a_gentle_try_again(app, signed_in, ikeja):
    app.config["VTPASS_BASE_URL"] = "http://127.0.0.1:9/vtpass/api"  # nothing listens on the discard port
    response = link(signed_in, ikeja, ADA_METER)
    assert response.status_code == 422
    assert "We could not check this meter number right now. Please try again in a minute." in page(response)
    assert account_count() == 0


# --- choosing a provider ------------------------------------------------------------------------

def test_only_utility_types_with_active_entries_are_offered(signed_in, estate, ikeja):
    make_catalogue_entry(estate, name="Lagos Water", provider_type="water", provider_code="lagos-water",
                         item_code="lwc-bill", is_active=False)
    html = page(signed_in.client.get("/accounts/new"))
    assert '<option value="electricity"' in html
    assert '<option value="water"' not in html


def test_inactive_and_other_estate_entries_are_not_offered(signed_in, estate, ikeja):
    inactive = make_catalogue_entry(estate, name="Eko Prepaid", provider_code="eko-electric", is_active=False)
    elsewhere = make_catalogue_entry(make_estate(), name="Elsewhere Electric")
    html = page(signed_in.client.get("/accounts/new/providers?type=electricity", headers=HTMX))
    assert f'value="{ikeja.id}"' in html
    assert f'value="{inactive.id}"' not in html and f'value="{elsewhere.id}"' not in html


@pytest.mark.parametrize("which", ["inactive", "other_estate", "retired"])
def test_an_entry_the_resident_may_not_use_cannot_be_linked(signed_in, estate, ikeja, which):
    eko = {"name": "Eko Prepaid", "provider_code": "eko-electric"}
    entry = {
        "inactive": lambda: make_catalogue_entry(estate, is_active=False, **eko),
        "other_estate": lambda: make_catalogue_entry(make_estate(), **eko),
        "retired": lambda: make_catalogue_entry(estate, is_active=False, retired_at=utcnow(), **eko),
    }[which]()
    response = link(signed_in, entry, ADA_METER)
    assert response.status_code == 422
    assert "Choose a provider from the list." in page(response)
    assert account_count() == 0 and provider_call_count() == 0
    assert "Choose a provider from the list." in page(check(signed_in, entry, ADA_METER, HTMX))


@pytest.mark.parametrize("query", ["type=cable_tv", "utility_type=cable_tv"])  # a link; what the select sends
def test_changing_the_type_swaps_in_only_that_types_providers(signed_in, ikeja, dstv, query):
    response = signed_in.client.get(f"/accounts/new/providers?{query}", headers=HTMX)
    html = page(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<fieldset id="provider-step">')
    assert "DStv Compact" in html and "Ikeja Electric Prepaid" not in html
    assert "Smart Card Number" in html  # the number's label follows the type (out-of-band swap)
    assert response.headers["Vary"].count("HX-Request") == 1


def test_choosing_a_provider_updates_the_number_label(signed_in, estate, ikeja):
    labelled = make_catalogue_entry(estate, name="Custom Electric", provider_code="eko-electric",
                                    label_name="Account or Meter No.")
    html = page(signed_in.client.get(
        f"/accounts/new/providers?utility_type=electricity&provider_id={labelled.id}", headers=HTMX))
    assert '<span id="number-label" hx-swap-oob="true">Account or Meter No.</span>' in html
    assert f'<option value="{labelled.id}" selected>' in html


def test_the_providers_url_without_htmx_is_the_whole_page(signed_in, ikeja, dstv):
    html = page(signed_in.client.get("/accounts/new/providers?type=cable_tv"))
    assert "<html" in html and 'id="link-form"' in html
    assert "DStv Compact" in html and "Ikeja Electric Prepaid" not in html
    assert 'hx-swap-oob' not in html


def test_entries_sharing_a_name_say_which_provider_serves_them(signed_in, estate, ikeja):
    make_catalogue_entry(estate, api_provider="flutterwave", provider_code="BIL112", item_code="UB157")
    html = page(signed_in.client.get("/accounts/new/providers?type=electricity", headers=HTMX))
    assert "Ikeja Electric Prepaid (via VTpass)" in html and "Ikeja Electric Prepaid (via Flutterwave)" in html


def test_without_a_chosen_type_every_provider_is_offered_grouped_by_type(signed_in, ikeja, dstv):
    html = page(signed_in.client.get("/accounts/new"))
    assert '<optgroup label="Cable TV">' in html and '<optgroup label="Electricity">' in html


def test_an_estate_without_active_entries_is_told_so(signed_in):
    assert "has not switched on any utility providers" in page(signed_in.client.get("/accounts/new"))


# --- the inline check ------------------------------------------------------------------------

def test_the_inline_check_shows_the_customer_name_and_address_as_a_fragment(signed_in, resident, ikeja):
    response = check(signed_in, ikeja, ADA_METER, HTMX)
    html = page(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="number-feedback"') and "<html" not in html
    address = utility_accounts.validate_number(resident, ikeja.id, ADA_METER).address
    assert "Ada Okafor" in html and address and address in html
    assert account_count() == 0


def test_the_inline_check_warns_when_the_meter_type_differs_from_the_chosen_entry(signed_in, estate):
    postpaid = make_catalogue_entry(estate, name="IKEDC Postpaid", item_code="postpaid", meter_type="postpaid")
    html = page(check(signed_in, postpaid, ADA_METER, HTMX))
    assert "The provider says this is a prepaid meter, but IKEDC Postpaid" in html


def test_the_inline_check_shows_a_clear_error_for_an_unknown_number(signed_in, ikeja):
    html = page(check(signed_in, ikeja, UNKNOWN_METER, HTMX))
    assert "No customer found for this meter number" in html
    assert account_count() == 0


def test_the_inline_check_without_htmx_renders_the_whole_page(signed_in, ikeja):
    html = page(check(signed_in, ikeja, ADA_METER))
    assert "<html" in html and "Ada Okafor" in html and 'value="1111111111111"' in html


def test_the_number_field_asks_for_the_inline_check_with_htmx(signed_in, ikeja):
    html = page(signed_in.client.get("/accounts/new"))
    field = re.search(r'<input id="customer_number"[^>]*>', html).group(0)
    assert 'hx-post="/accounts/new/validate"' in field and 'hx-target="#number-feedback"' in field
    assert 'hx-trigger="change"' in field
    assert '"X-CSRFToken"' in html.split("<body", 1)[1].split(">", 1)[0]


def test_the_inline_check_is_rate_limited_at_30_a_minute(signed_in, ikeja):
    statuses = [check(signed_in, ikeja, "12AB", HTMX).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_the_validation_limit_is_a_setting(app, signed_in, ikeja):
    app.config["VALIDATION_RATE_LIMIT"] = "2 per minute"
    statuses = [check(signed_in, ikeja, "12AB", HTMX).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert link(signed_in, ikeja, ADA_METER).status_code == 429  # saving asks the provider too
    assert account_count() == 0


# --- the list, rename, remove ------------------------------------------------------------------

def test_the_list_shows_nickname_provider_type_masked_number_and_customer(signed_in, resident, ikeja):
    make_utility_account(resident, ikeja, "2345678904521", nickname="Flat 3 meter", customer_name="Ada Okafor")
    html = page(signed_in.client.get("/accounts/"))
    for shown in ("Flat 3 meter", "Ikeja Electric Prepaid", "Electricity", "•••• 4521", "Ada Okafor"):
        assert shown in html
    assert "2345678904521" not in html


def test_the_list_shows_only_the_residents_own_accounts(signed_in, ikeja, other_resident):
    make_utility_account(other_resident, ikeja, nickname="Bola's meter")
    assert "Bola's meter" not in page(signed_in.client.get("/accounts/"))


def test_listing_accounts_takes_one_query_for_one_or_many(resident, ikeja):
    resident_id = resident.id

    def queries_to_list() -> int:
        count = 0

        def on_execute(_conn, _cursor, statement, *_args):
            nonlocal count
            count += statement.lstrip().upper().startswith("SELECT")

        event.listen(db.engine, "before_cursor_execute", on_execute)
        try:
            db.session.expire_all()
            for account in utility_accounts.list_accounts(resident_id):
                assert account.provider.name
        finally:
            event.remove(db.engine, "before_cursor_execute", on_execute)
        return count

    make_utility_account(resident, ikeja, "2000000000001")
    one = queries_to_list()
    for n in range(2, 7):
        make_utility_account(resident, ikeja, f"200000000000{n}")
    assert queries_to_list() == one == 1


def test_rename(signed_in, resident, ikeja):
    account = make_utility_account(resident, ikeja, nickname="Old name")
    response = signed_in.post(f"/accounts/{account.id}/rename", {"nickname": "  Boys' quarters  "})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(UtilityAccount, account.id).nickname == "Boys' quarters"


def test_rename_to_blank_is_refused_and_changes_nothing(signed_in, resident, ikeja):
    account = make_utility_account(resident, ikeja, nickname="Old name")
    response = signed_in.post(f"/accounts/{account.id}/rename", {"nickname": "   "})
    assert response.status_code == 422 and "Enter a nickname" in page(response)
    db.session.expire_all()
    assert db.session.get(UtilityAccount, account.id).nickname == "Old name"


def test_remove_asks_for_confirmation_first(signed_in, resident, ikeja):
    account = make_utility_account(resident, ikeja, nickname="Flat 3 meter")
    html = page(signed_in.client.get(f"/accounts/{account.id}/remove"))
    assert "Remove “Flat 3 meter”?" in html and 'method="post"' in html
    db.session.expire_all()
    assert db.session.get(UtilityAccount, account.id).removed_at is None


def test_remove_keeps_the_row_and_its_payments(signed_in, resident, ikeja):
    account = make_utility_account(resident, ikeja, nickname="Flat 3 meter")
    payment = make_payment(resident, account)
    response = signed_in.post(f"/accounts/{account.id}/remove", page=f"/accounts/{account.id}/remove")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(UtilityAccount, account.id).removed_at is not None
    assert db.session.get(Payment, payment.id).utility_account_id == account.id
    assert 'id="account-' not in page(signed_in.client.get("/accounts/"))


def test_a_removed_number_can_be_linked_again(signed_in, resident, ikeja):
    old = make_utility_account(resident, ikeja, ADA_METER, nickname="Old meter")
    signed_in.post(f"/accounts/{old.id}/remove", page=f"/accounts/{old.id}/remove")
    assert link(signed_in, ikeja, ADA_METER, nickname="New meter").status_code == 302
    assert [a.nickname for a in utility_accounts.list_accounts(resident.id)] == ["New meter"]
    assert account_count() == 2


ACCOUNT_ROUTES = [("GET", "/accounts/{id}/rename"), ("POST", "/accounts/{id}/rename"),
                  ("GET", "/accounts/{id}/remove"), ("POST", "/accounts/{id}/remove")]


@pytest.mark.parametrize("method, path", ACCOUNT_ROUTES)
def test_another_residents_account_is_a_404_on_every_route(signed_in, ikeja, other_resident, method, path):
    theirs = make_utility_account(other_resident, ikeja, nickname="Bola's meter")
    url = path.format(id=theirs.id)
    if method == "GET":
        response = signed_in.client.get(url)
    else:
        response = signed_in.post(url, {"nickname": "Mine now"}, page="/accounts/new")
    assert response.status_code == 404
    db.session.expire_all()
    unchanged = db.session.get(UtilityAccount, theirs.id)
    assert (unchanged.nickname, unchanged.removed_at) == ("Bola's meter", None)


@pytest.mark.parametrize("method, path", ACCOUNT_ROUTES)
def test_a_removed_or_unknown_account_is_a_404(signed_in, resident, ikeja, method, path):
    removed = make_utility_account(resident, ikeja, removed_at=utcnow())
    for account_id in (removed.id, 999_999):
        url = path.format(id=account_id)
        response = signed_in.client.get(url) if method == "GET" else signed_in.post(url, {}, page="/accounts/new")
        assert response.status_code == 404


# --- guards and CSRF ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/accounts/", "/accounts/new", "/accounts/new/providers"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/accounts/", "/accounts/new", "/accounts/new/providers"])
def test_admins_get_a_404(auth, estate_admin, path):
    auth.login(estate_admin.email)
    assert auth.client.get(path).status_code == 404


def test_every_post_needs_a_csrf_token(signed_in, resident, ikeja):
    account = make_utility_account(resident, ikeja, nickname="Flat 3 meter")
    posts = {
        "/accounts/new": {"provider_id": ikeja.id, "customer_number": "2000000000009", "nickname": "x"},
        "/accounts/new/validate": {"provider_id": ikeja.id, "customer_number": ADA_METER},
        f"/accounts/{account.id}/rename": {"nickname": "Hijacked"},
        f"/accounts/{account.id}/remove": {},
    }
    for path, data in posts.items():
        assert signed_in.client.post(path, data=data).status_code == 400, path
    db.session.expire_all()
    assert account_count() == 1 and provider_call_count() == 0
    unchanged = db.session.get(UtilityAccount, account.id)
    assert (unchanged.nickname, unchanged.removed_at) == ("Flat 3 meter", None)


def test_the_resident_nav_links_to_accounts(signed_in):
    assert 'href="/accounts/"' in page(signed_in.client.get("/"))


def test_admins_do_not_see_the_accounts_nav(auth, estate_admin):
    auth.login(estate_admin.email)
    assert 'href="/accounts/"' not in page(auth.client.get("/admin/"))


def test_a_platform_admin_without_an_estate_gets_a_404(auth):
    admin = make_user(role="platform_admin", email="root@example.com")
    auth.login(admin.email)
    assert auth.client.get("/accounts/new").status_code == 404


# --- postpaid: what the provider says is owed ----------------------------------------------------

POSTPAID_ACCOUNT = "1010101010101"  # the sandbox's postpaid customer, ₦12,500.00 outstanding
POSTPAID_CODES = {"vtpass": ("ikeja-electric", "postpaid"), "flutterwave": ("BIL112", "UB158")}


@pytest.fixture(params=sorted(POSTPAID_CODES))
def postpaid(request, estate):
    provider_code, item_code = POSTPAID_CODES[request.param]
    return make_catalogue_entry(estate, name="IKEDC Postpaid", api_provider=request.param,
                                provider_code=provider_code, item_code=item_code, meter_type="postpaid")


def test_the_inline_check_of_a_postpaid_account_shows_what_the_provider_says_is_owed(signed_in, postpaid):
    html = page(check(signed_in, postpaid, POSTPAID_ACCOUNT, HTMX))
    assert re.search(r'id="outstanding">This account owes <strong>₦12,500.00</strong>, the provider says', html)


def test_linking_a_postpaid_account_offers_to_pay_what_it_owes(signed_in, postpaid):
    html = page(link(signed_in, postpaid, POSTPAID_ACCOUNT, follow_redirects=True))
    account = db.session.scalars(select(UtilityAccount)).one()
    pay = f"/pay/?account={account.id}&amp;amount=1250000"
    assert f'This account owes ₦12,500.00 — <a href="{pay}">pay it now</a>.' in html


def test_the_pay_now_link_fills_in_the_amount_owed(signed_in, postpaid):
    html = page(link(signed_in, postpaid, POSTPAID_ACCOUNT, follow_redirects=True))
    pay = re.search(r'<a href="([^"]+)">pay it now</a>', html).group(1).replace("&amp;", "&")
    form = page(signed_in.client.get(pay))
    account = db.session.scalars(select(UtilityAccount)).one()
    assert re.search(rf'<option selected value="{account.id}"|<option value="{account.id}" selected', form)
    assert re.search(r'name="amount"[^>]*value="12,?500(\.00)?"', form)


def test_a_prepaid_meter_shows_no_amount_owed(signed_in, ikeja):
    assert 'id="outstanding"' not in page(check(signed_in, ikeja, ADA_METER, HTMX))
    linked = page(link(signed_in, ikeja, ADA_METER, follow_redirects=True))
    assert "Linked “Home meter”" in linked and "owes" not in linked and "pay it now" not in linked


def test_a_postpaid_answer_without_an_outstanding_field_shows_none(estate):
    entry = make_catalogue_entry(estate, item_code="postpaid", meter_type="postpaid")
    answer = CustomerInfo(customer_id=POSTPAID_ACCOUNT, name="Ada", meter_type="postpaid")
    assert utility_accounts.reported_outstanding(entry, answer) is None
    assert utility_accounts.reported_outstanding(entry, replace(answer, outstanding_kobo=12_500_00)) == 12_500_00
    assert utility_accounts.reported_outstanding(entry, replace(answer, meter_type="prepaid",
                                                                outstanding_kobo=12_500_00)) is None
    # A credit on the account is not a debt.
    assert utility_accounts.reported_outstanding(entry, replace(answer, outstanding_kobo=-300_00)) == 0


def test_the_linked_message_shows_a_nickname_as_text_next_to_its_pay_link(signed_in, postpaid):
    html = page(link(signed_in, postpaid, POSTPAID_ACCOUNT, nickname="<b>Office</b>", follow_redirects=True))
    assert "<b>Office</b>" not in html
    assert re.search(r"Linked “&lt;b&gt;Office&lt;/b&gt;” \(.+?\)\. This account owes ₦12,500.00 — <a href=", html)
