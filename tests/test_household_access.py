"""Households, stage two: every route tried by each kind of member acting for A's household.

The routes come from ``app.url_map`` through ``test_ownership_walk.walk``, so a route added
tomorrow is walked here too. A viewer sees the household's accounts, payments and tokens and
changes nothing (403); a payer also pays and manages automations, nothing else; a co-owner reaches
everything of the household's; nobody reaches A's estate bills, notifications, wallet or admin
pages through a household; a non-member and a member of another household get 404 for A's ids.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.households.acting import MANAGER_ONLY, VIEWER_PAGES
from webapp.models import Automation, Payment

from . import factories, factories_payments
from .factories_households import make_member
from .test_ownership_walk import leaks, state, walk
from .test_ownership_walk import world as world  # noqa: F401  (the fixture)

HOUSEHOLD_AREAS = ("pay.", "history.", "utility_accounts.", "automations.")


def act_for_household(auth, client, membership) -> None:
    auth.login(membership.member.email)
    response = auth.post("/household/switch", {"household": str(membership.id)}, page="/household/")
    assert response.status_code == 302


def walked(app, client, auth, world):
    """The walk, one request at a time (a step may act on the session before the next request)."""
    return walk(app, client, world, auth.csrf("/household/"))


def drain_flashes(client) -> None:
    """Drop what an allowed action flashed (e.g. a renamed account's name), so that the next
    response is judged by what it shows itself."""
    with client.session_transaction() as session:
        session.pop("_flashes", None)


def describe(method, path, response) -> str:
    return f"{method} {path}: {response.status_code}{' (leaks)' if leaks(response) else ''}"


@pytest.fixture
def payer(world):
    return make_member(world.owner, factories.make_user(estate=world.estate, email="payer@example.com",
                                                        full_name="Tunde Payer"), role="payer")


@pytest.fixture
def co_owner(world):
    return make_member(world.owner, factories.make_user(estate=world.estate, email="co@example.com",
                                                        full_name="Ngozi Coowner"), role="co_owner")


@pytest.fixture
def other_household(world):
    """C's household, whose co-owner D acts for it: they may do anything there, nothing at A's."""
    other_owner = factories.make_user(estate=world.estate, email="c@example.com", full_name="C Owner")
    return make_member(other_owner, factories.make_user(estate=world.estate, email="d@example.com",
                                                        full_name="D Coowner"), role="co_owner")


def test_a_viewer_sees_the_households_pages_and_changes_nothing(app, client, auth, world):
    before = state(world)
    act_for_household(auth, client, world.membership)
    problems = []
    for rule, method, path, response in walked(app, client, auth, world):
        endpoint = rule.endpoint
        if endpoint in VIEWER_PAGES and method == "GET":
            expected = 404 if endpoint == "history.receipt" else 200  # A's payment is held: no receipt yet
        elif endpoint.startswith(HOUSEHOLD_AREAS) or endpoint.startswith("households."):
            expected = 403
        else:
            expected = 404  # A's bills, notifications, wallet, admin pages: never shared
        if response.status_code != expected or (expected != 200 and leaks(response)):
            problems.append(describe(method, path, response))
    assert not problems
    assert state(world) == before


def test_the_viewers_own_pages_show_the_household(app, client, auth, world):
    act_for_household(auth, client, world.membership)
    for path in (f"/pay/{world.payment.id}", f"/payments/{world.payment.id}", f"/automations/{world.automation.id}",
                 "/accounts/", "/payments/", "/automations/"):
        response = client.get(path)
        assert response.status_code == 200 and leaks(response), path


def test_a_payer_pays_and_manages_automations_and_nothing_else(app, client, auth, world, payer):
    before = state(world)
    act_for_household(auth, client, payer)
    problems = []
    for rule, method, path, response in walked(app, client, auth, world):
        endpoint = rule.endpoint
        drain_flashes(client)
        if response.status_code >= 500:
            problems.append(describe(method, path, response))
        elif endpoint in VIEWER_PAGES and method == "GET":
            if response.status_code != (404 if endpoint == "history.receipt" else 200):
                problems.append(describe(method, path, response))
        elif endpoint.startswith(("pay.", "history.", "automations.")) and endpoint not in MANAGER_ONLY:
            if response.status_code in (403, 404):  # reaches A's payments and automations
                problems.append(describe(method, path, response))
        elif endpoint.startswith(("utility_accounts.", "households.")) or endpoint in MANAGER_ONLY:
            if response.status_code != 403 or leaks(response):
                problems.append(describe(method, path, response))
        elif response.status_code != 404 or leaks(response):
            problems.append(describe(method, path, response))
    assert not problems
    after = state(world)
    # Only automations (managed) and payments may change; accounts, bills, notifications never.
    for table in ("utility_accounts", "bills", "notifications", "funding_intents", "household_members"):
        assert after[table] == before[table], table


def test_a_co_owner_reaches_everything_of_the_household_and_nothing_else(app, client, auth, world, co_owner):
    act_for_household(auth, client, co_owner)
    problems = []
    for rule, method, path, response in walked(app, client, auth, world):
        endpoint = rule.endpoint
        household = endpoint.startswith(HOUSEHOLD_AREAS) or endpoint.startswith("households.")
        drain_flashes(client)
        if household:
            # Reached: anything but a refusal (A's held payment has no receipt, for A too).
            wrong = response.status_code >= 500 or response.status_code == 403 or (
                response.status_code == 404 and endpoint != "history.receipt")
        else:
            wrong = response.status_code != 404 or leaks(response)
        if wrong:
            problems.append(describe(method, path, response))
    assert not problems
    assert state(world)["bills"] and state(world)["notifications"]


def test_a_member_of_another_household_gets_404_for_as_ids(app, client, auth, world, other_household):
    before = state(world)
    act_for_household(auth, client, other_household)
    problems = [describe(method, path, response)
                for _rule, method, path, response in walked(app, client, auth, world)
                if response.status_code != 404 or leaks(response)]
    assert not problems
    assert state(world) == before


def test_a_non_member_cannot_choose_as_household(app, client, auth, world):
    auth.login(world.neighbour.email)
    response = auth.post("/household/switch", {"household": str(world.membership.id)}, page="/household/")
    assert response.status_code == 404
    assert client.get(f"/pay/{world.payment.id}").status_code == 404


def test_a_member_cannot_choose_a_household_that_is_not_theirs(app, client, auth, world, other_household):
    act_for_household(auth, client, other_household)
    auth.post("/household/switch", {"household": str(world.membership.id)}, page="/household/")
    assert client.get(f"/pay/{world.payment.id}").status_code == 404
    assert "Household C Owner" in client.get("/household/").get_data(as_text=True)


def test_a_removed_member_is_switched_back_at_the_next_request(app, client, auth, world):
    act_for_household(auth, client, world.membership)
    assert client.get(f"/pay/{world.payment.id}").status_code == 200
    world.membership.status = "removed"
    db.session.commit()
    response = client.get(f"/pay/{world.payment.id}")
    assert response.status_code == 404 and not leaks(response)
    assert "no longer a member of that household" in response.get_data(as_text=True)
    assert "Zebra-7731 meter" not in client.get("/accounts/").get_data(as_text=True)  # their own accounts again


def test_a_lowered_role_holds_from_the_next_request(app, client, auth, world, co_owner):
    act_for_household(auth, client, co_owner)
    co_owner.role = "viewer"
    db.session.commit()
    response = auth.post(f"/automations/{world.automation.id}/pause", page="/automations/")
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Automation, world.automation.id).paused_at is None


def test_a_member_acting_as_themselves_sees_only_their_own(app, client, auth, world):
    auth.login(world.member.email)  # a member, but acting as themselves
    assert client.get(f"/pay/{world.payment.id}").status_code == 404
    assert client.get("/accounts/").get_data(as_text=True).count("Zebra-7731 meter") == 0


def test_a_payers_payment_is_the_owners_and_says_who_made_it_even_after_removal(app, client, auth, world, payer):
    from webapp.services import ledger

    ledger.credit_funding(world.owner.id, 20_000_00, "paystack", "fund-household-1")
    db.session.commit()
    act_for_household(auth, client, payer)
    review = auth.post("/pay/review", {"account": str(world.account.id), "amount": "5000"}, page="/pay/")
    assert review.status_code == 200
    from .payments.test_pay_views import confirm_data

    data = confirm_data(review.get_data(as_text=True))
    assert client.post("/pay/confirm", data={**data, "csrf_token": auth.csrf("/pay/")}).status_code == 302
    payment = db.session.scalars(select(Payment).where(Payment.made_by_id == payer.member_id)).one()
    assert payment.user_id == world.owner.id
    payer.status = "removed"
    db.session.commit()
    auth.logout()
    auth.login(world.owner.email)
    page = client.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert "Made by" in page and "Tunde Payer" in page


def test_a_viewer_sees_the_households_tokens(app, client, auth, world):
    from .factories_payments import make_payment

    paid = make_payment(world.owner, world.account, token="12345678901234567890")
    act_for_household(auth, client, world.membership)
    assert "1234 5678 9012 3456 7890" in client.get(f"/payments/{paid.id}").get_data(as_text=True)


def test_the_owners_estate_bill_payments_are_not_the_households(app, client, auth, world):
    bill_payment = factories_payments.PaymentFactory(user=world.owner, kind="estate_bill", bill_id=world.bill.id,
                                                     utility_account=None, provider=None, token=None,
                                                     utility_type="estate_bill", status="created",
                                                     fee_kobo=0, api_provider=None)
    act_for_household(auth, client, world.membership)
    assert client.get(f"/payments/{bill_payment.id}").status_code == 404
    assert f"/payments/{bill_payment.id}" not in client.get("/payments/").get_data(as_text=True)
    auth.logout()
    auth.login(world.owner.email)
    assert client.get(f"/payments/{bill_payment.id}").status_code == 200


def test_a_viewer_is_not_offered_what_their_role_cannot_do(app, client, auth, world):
    from .factories_payments import make_payment

    paid = make_payment(world.owner, world.account, token="12345678901234567890")
    act_for_household(auth, client, world.membership)
    accounts = client.get("/accounts/").get_data(as_text=True)
    assert "Link an account" not in accounts and "Rename" not in accounts and "Top up" not in accounts
    automations = client.get("/automations/").get_data(as_text=True)
    assert "New automation" not in automations and "Limits and settings" not in automations
    assert "Pause" not in automations and "Delete" not in automations
    assert 'id="resend-token"' not in client.get(f"/payments/{paid.id}").get_data(as_text=True)
