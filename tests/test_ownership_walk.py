"""Every route that takes an id, tried with resident A's objects by everyone who is not allowed them.

The routes come from ``app.url_map``, so a route added tomorrow is walked tomorrow: if it names an
id this file does not know, ``test_every_id_argument_has_an_object_to_try`` fails until it is added
to ``OBJECT_FOR``. Each visitor must get a 404 (signed in) or be sent to sign in (anonymous), never
a 500, never a page with A's data, and nothing of A's may change (DESIGN §7: another user's id in
a URL is a 404, not a 403 that confirms existence).
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import url_for
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from webapp.extensions import db
from webapp.models import (
    AdminAlert,
    Automation,
    Bill,
    BillPlan,
    FundingIntent,
    HouseholdMember,
    Notification,
    Payment,
    Payout,
    PayoutAccount,
    ReconciliationMismatch,
    User,
    UtilityAccount,
    UtilityProvider,
)
from webapp.request_numbers import StrictIntConverter

from .factories_world import SECRET, World, build_world

# URL argument -> which of A's objects to put in it.
OBJECT_FOR: dict[str, Callable[[World], object]] = {
    "account_id": lambda w: w.account.id,
    "payment_id": lambda w: w.payment.id,
    "automation_id": lambda w: w.automation.id,
    "bill_id": lambda w: w.bill.id,
    "plan_id": lambda w: w.plan.id,
    "notification_id": lambda w: w.notification.id,
    "entry_id": lambda w: w.entry.id,
    "alert_id": lambda w: w.alert.id,
    "run_id": lambda w: w.run.id,
    "reference": lambda w: w.intent.reference,
    "user_id": lambda w: w.owner.id,
    "member_id": lambda w: w.membership.id,
    "payout_id": lambda w: w.payout.id,
    "payout_account_id": lambda w: w.payout_account.id,
    # The RQ dashboard (platform admins only): a payment's job id is its reference.
    "job_id": lambda w: w.payment.reference,
    "instance_number": lambda w: 0,
    "per_page": lambda w: 10,
    "page": lambda w: 1,
}
# Other arguments of the same routes: not ids, just something valid.
PLAIN_VALUES = {"queue_name": "default", "registry_name": "failed", "order": "asc"}
# A reconciliation run is one provider's day, the same for every admin; what a page shows of it is
# filtered by estate, so another estate's admin may open it but must not see estate A's mismatches.
SHARED_WITH_EVERY_ADMIN = {"run_id"}
STATE_TABLES = (UtilityAccount, Payment, Automation, Bill, Notification, FundingIntent, UtilityProvider, AdminAlert,
                ReconciliationMismatch, BillPlan, HouseholdMember, Payout, PayoutAccount)


def is_id_argument(rule, name: str) -> bool:
    converter = rule._converters.get(name)
    return (isinstance(converter, IntegerConverter | StrictIntConverter) or name == "id" or name.endswith("_id")
            or name.endswith("reference"))


def id_rules(app) -> list:
    return [rule for rule in app.url_map.iter_rules() if any(is_id_argument(rule, a) for a in rule.arguments)]


def state(world: World) -> dict:
    """Every row of A's kinds of objects, and A's own user row (sessions), as plain tuples: what a
    refused request must not change."""
    db.session.rollback()
    db.session.expire_all()
    rows = {model.__tablename__: [tuple(row) for row in db.session.execute(select(model.__table__)).all()]
            for model in STATE_TABLES}
    rows["owner"] = [tuple(row) for row in db.session.execute(
        select(User.__table__).where(User.__table__.c.id == world.owner.id)).all()]
    return rows


@pytest.fixture
def world(app) -> World:
    return build_world()


def walk(app, client, world: World, csrf_token: str):
    """Request every id route with A's objects (GET and POST where allowed); yield what came back."""
    for rule in id_rules(app):
        values = {name: OBJECT_FOR[name](world) if name in OBJECT_FOR else PLAIN_VALUES[name]
                  for name in rule.arguments}
        path = url_for(rule.endpoint, **values, _external=False)
        for method in sorted(rule.methods & {"GET", "POST"}):
            data = {"csrf_token": csrf_token} if method == "POST" else None
            response = client.open(path, method=method, data=data)
            yield rule, method, path, response


def leaks(response) -> bool:
    return SECRET in response.get_data(as_text=True)


def test_every_id_argument_has_an_object_to_try(app):
    unknown = {f"{rule.rule} ({name})" for rule in id_rules(app) for name in rule.arguments
               if name not in OBJECT_FOR and (is_id_argument(rule, name) or name not in PLAIN_VALUES)}
    assert not unknown, f"add these URL arguments to OBJECT_FOR so the walk covers them: {sorted(unknown)}"


def test_the_walk_covers_the_routes_of_every_area(app):
    prefixes = {rule.rule.split("/")[1] for rule in id_rules(app)}
    assert {"accounts", "pay", "payments", "automations", "bills", "notifications", "wallet", "admin",
            "household"} <= prefixes


def test_every_numeric_url_argument_is_a_strict_id(app):
    loose = [f"{rule.rule} ({name})" for rule in app.url_map.iter_rules()
             for name, converter in rule._converters.items()
             if isinstance(converter, IntegerConverter)]
    assert not loose, f"werkzeug's int converter takes Unicode digits and overflows the database: {loose}"
    assert any(isinstance(c, StrictIntConverter) for rule in id_rules(app) for c in rule._converters.values())


def test_the_owner_can_open_their_own_objects(app, client, auth, world):
    # The walk below is only worth something if these URLs do reach A's objects.
    auth.login(world.owner.email)
    for path in (f"/pay/{world.payment.id}", f"/automations/{world.automation.id}",
                 f"/accounts/{world.account.id}/rename", f"/bills/{world.bill.id}/pay",
                 f"/wallet/fund/{world.intent.reference}"):
        response = client.get(path)
        assert response.status_code == 200 and leaks(response), path


def test_another_resident_of_the_same_estate_gets_404_everywhere(app, client, auth, world):
    before = state(world)
    auth.login(world.neighbour.email)
    problems = [f"{method} {path}: {response.status_code}{' (leaks)' if leaks(response) else ''}"
                for rule, method, path, response in walk(app, client, world, auth.csrf("/auth/password"))
                if response.status_code != 404 or leaks(response)]
    assert not problems
    assert state(world) == before


def test_another_estates_admin_gets_404_everywhere(app, client, auth, world):
    before = state(world)
    auth.login(world.other_admin.email)
    problems = []
    for rule, method, path, response in walk(app, client, world, auth.csrf("/auth/password")):
        shared = set(rule.arguments) <= SHARED_WITH_EVERY_ADMIN and rule.endpoint.startswith("admin.")
        allowed = {200, 404} if shared else {404}
        if response.status_code not in allowed or leaks(response):
            problems.append(f"{method} {path}: {response.status_code}{' (leaks)' if leaks(response) else ''}")
    assert not problems
    assert state(world) == before


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(app, client, auth, world):
    before = state(world)
    problems = []
    for _rule, method, path, response in walk(app, client, world, auth.csrf("/auth/login")):
        to_sign_in = response.status_code == 302 and "/auth/login" in response.headers["Location"]
        if not (to_sign_in or response.status_code in (404, 405)) or leaks(response):
            problems.append(f"{method} {path}: {response.status_code}")
    assert not problems
    assert state(world) == before


def test_the_estates_own_admin_reaches_the_admin_routes(app, client, auth, world):
    # The other admin's 404s come from the estate scope, not from routes that 404 for everyone.
    auth.login(world.admin.email)
    for path in (f"/admin/payments/{world.payment.id}", f"/admin/catalogue/{world.entry.id}/edit",
                 f"/admin/reconciliation/{world.run.id}", f"/admin/bills/plans/{world.plan.id}",
                 f"/admin/bills/plans/{world.plan.id}/edit"):
        response = client.get(path)
        assert response.status_code == 200 and leaks(response), path


@pytest.mark.parametrize("bad", ["%C2%B9", "%D9%A1", "0", "-1", "99999999999999999999", "9" * 5000, "1e3", "%00"],
                         ids=["superscript-one", "arabic-indic-one", "zero", "minus-one", "20-digits", "5000-digits",
                              "exponent", "nul"])
def test_numbers_that_are_not_row_ids_are_404_on_every_id_route(app, client, auth, world, bad):
    # Every id of the world is small, so "¹" or "١" would be A's own objects if they were read as 1.
    auth.login(world.owner.email)
    token = auth.csrf("/auth/password")
    sentinel = 1357911
    problems = []
    for rule in id_rules(app):
        if rule.endpoint.startswith("rq_dashboard.") or not all(
                isinstance(rule._converters[a], IntegerConverter | StrictIntConverter) for a in rule.arguments):
            continue
        path = url_for(rule.endpoint, **dict.fromkeys(rule.arguments, sentinel), _external=False)
        path = path.replace(str(sentinel), bad)
        for method in sorted(rule.methods & {"GET", "POST"}):
            status = client.open(path, method=method, data={"csrf_token": token}).status_code
            if status != 404:
                problems.append(f"{method} {path[:60]}: {status}")
    assert not problems
