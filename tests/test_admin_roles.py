"""Admin roles within an estate: every admin route, walked from ``app.url_map``, with a manager, a
finance admin and a viewer of the estate, and with each role in another estate.

What each role may change is spelled out here, not read from ``webapp.admin.permissions``: a new
POST route is refused to finance and viewers until this file says otherwise, and a route that
declares no right at all fails ``test_every_admin_route_declares_a_right``.
"""
from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import func, select

from webapp.admin.permissions import Right, declared_right
from webapp.extensions import db
from webapp.models import AuditEntry, User

from . import factories
from .factories_world import SECRET, World, build_world
from .test_ownership_walk import OBJECT_FOR, PLAIN_VALUES, state

# Every POST a finance admin may make; a manager may make them all, a viewer none.
FINANCE_MAY_POST = {
    "admin.payment_approve", "admin.payment_reject", "admin.payment_refund", "admin.payment_requery",
    "admin.alert_resolve", "admin.bills_new", "admin.bills_cancel", "admin.bills_statement_send",
    "admin.bill_plans_new", "admin.bill_plan_edit", "admin.bill_plan_pause", "admin.bill_plan_resume",
    "admin.payouts_new", "admin.payout_approve", "admin.payout_reject", "admin.payout_withdraw", "admin.payout_check",
    "admin.payout_account_new", "admin.payout_account_remove", "admin.payout_settle",
}
ROLES = ("manager", "finance", "viewer")


def may_post(role: str, endpoint: str) -> bool:
    return role == "manager" or (role == "finance" and endpoint in FINANCE_MAY_POST)


@pytest.fixture
def world(app) -> World:
    return build_world()


@pytest.fixture
def colleague(world) -> User:
    """A second admin of estate A: the one whose role the walk's role change names."""
    return factories.make_user(estate=world.estate, email="colleague@example.com", role="estate_admin",
                               admin_role="viewer", full_name="Chidi Colleague")


def admin_with_role(estate, role: str, email: str) -> User:
    return factories.make_user(estate=estate, email=email, role="estate_admin", admin_role=role)


def admin_rules(app) -> list:
    return sorted((rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")),
                  key=lambda rule: rule.rule)


def path_for(rule, world: World, colleague: User) -> str:
    values = {name: OBJECT_FOR[name](world) if name in OBJECT_FOR else PLAIN_VALUES[name] for name in rule.arguments}
    if rule.endpoint == "admin.admin_set_role":
        values["user_id"] = colleague.id
    return url_for(rule.endpoint, **values, _external=False)


def everything(world: World) -> dict:
    """What a refused request must not change: A's objects, every user (roles, sessions) and the audit log."""
    rows = state(world)
    rows["users"] = [tuple(row) for row in db.session.execute(select(User.__table__).order_by(User.id)).all()]
    rows["audit"] = db.session.scalar(select(func.count(AuditEntry.id)))
    return rows


def test_every_admin_route_declares_a_right(app):
    with app.test_request_context():
        undeclared = [rule.endpoint for rule in admin_rules(app) if declared_right(rule.endpoint) is None]
    assert not undeclared, f"declare the right these admin routes need with @needs(...): {undeclared}"


@pytest.mark.fresh_app
def test_a_route_without_a_declared_right_is_refused_to_estate_admins(app, client, auth, world):
    app.add_url_rule("/admin/undeclared", endpoint="admin.undeclared", view_func=lambda: "reached")
    auth.login(world.admin.email)
    assert client.get("/admin/undeclared").status_code == 403
    auth.logout()
    root = factories.make_user(email="root@example.com", role="platform_admin")
    auth.login(root.email)
    assert client.get("/admin/undeclared").get_data(as_text=True) == "reached"


def test_every_post_route_needs_more_than_reading(app):
    with app.test_request_context():
        read_only = [rule.endpoint for rule in admin_rules(app)
                     if "POST" in rule.methods and declared_right(rule.endpoint) is Right.READ]
    assert not read_only, f"a POST that needs only READ would let viewers change things: {read_only}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_of_the_estate_opens_every_admin_page_and_changes_only_what_it_may(
        app, client, auth, world, colleague, role):
    admin = world.admin if role == "manager" else admin_with_role(world.estate, role, f"{role}@example.com")
    auth.login(admin.email)
    token = auth.csrf("/auth/password")
    problems = []
    for rule in admin_rules(app):
        path = path_for(rule, world, colleague)
        if "GET" in rule.methods:
            status = client.get(path).status_code
            if status != 200:
                problems.append(f"GET {path}: {status}, expected 200")
        if "POST" not in rule.methods:
            continue
        before = everything(world)
        status = client.post(path, data={"csrf_token": token}).status_code
        if may_post(role, rule.endpoint):
            if status in (403, 404) or status >= 500:
                problems.append(f"POST {path}: {status}, expected the route to run")
        elif status != 403:
            problems.append(f"POST {path}: {status}, expected 403")
        elif everything(world) != before:
            problems.append(f"POST {path}: refused, but something changed")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_another_estates_admin_of_each_role_gets_nothing_of_this_estate(app, client, auth, world, colleague, role):
    outsider = admin_with_role(world.other_estate, role, f"outside-{role}@example.com")
    auth.login(outsider.email)
    token = auth.csrf("/auth/password")
    before = everything(world)
    problems = []
    for rule in admin_rules(app):
        if not rule.arguments or set(rule.arguments) <= {"run_id"}:
            continue  # pages of the outsider's own estate, and runs shared by every admin (ownership walk)
        path = path_for(rule, world, colleague)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            # Without the right a POST is 403 whatever the id, so it says nothing about A's objects.
            expected = 404 if method == "GET" or may_post(role, rule.endpoint) else 403
            if response.status_code != expected or SECRET in response.get_data(as_text=True):
                problems.append(f"{method} {path}: {response.status_code}, expected {expected}")
    assert not problems, "\n".join(problems)
    assert everything(world) == before


def test_a_refusal_for_want_of_a_right_is_the_same_for_an_id_that_does_not_exist(client, auth, world):
    viewer = admin_with_role(world.estate, "viewer", "viewer@example.com")
    auth.login(viewer.email)
    token = auth.csrf("/auth/password")
    for payment_id in (world.payment.id, 987654):
        assert client.post(f"/admin/payments/{payment_id}/approve", data={"csrf_token": token}).status_code == 403


def test_the_platform_admin_keeps_every_right(client, auth, world, colleague):
    root = factories.make_user(email="root@example.com", role="platform_admin")
    auth.login(root.email)
    response = auth.post(f"/admin/admins/{colleague.id}/role", {"admin_role": "finance"},
                         page=f"/admin/admins/?estate={world.estate.id}")
    assert response.status_code == 302
    assert db.session.get(User, colleague.id).admin_role == "finance"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "admin.role")).one()
    assert entry.actor_role == "platform_admin"


# --- setting roles --------------------------------------------------------------------------------

def test_a_manager_sets_another_admins_role_and_the_audit_log_says_as_what(client, auth, world, colleague):
    auth.login(world.admin.email)
    response = auth.post(f"/admin/admins/{colleague.id}/role", {"admin_role": "finance"}, page="/admin/admins/")
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, colleague.id).admin_role == "finance"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "admin.role")).one()
    assert (entry.actor, entry.actor_role, entry.object_id) == (world.admin.email, "manager", colleague.id)
    assert (entry.before, entry.after) == ({"admin_role": "viewer"}, {"admin_role": "finance"})
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert f'id="audit-{entry.id}"' in html and 'data-role="manager">as Manager' in html


def test_the_audit_csv_says_what_role_the_actor_acted_under(client, auth, world, colleague):
    import csv
    import io

    auth.login(world.admin.email)
    auth.post(f"/admin/admins/{colleague.id}/role", {"admin_role": "finance"}, page="/admin/admins/")
    rows = list(csv.reader(io.StringIO(client.get("/admin/audit/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-1] == "Acted as" and rows[1][-1] == "Manager"


def test_the_last_manager_cannot_be_demoted(client, auth, world, colleague):
    auth.login(world.admin.email)
    before = everything(world)
    response = auth.post(f"/admin/admins/{world.admin.id}/role", {"admin_role": "viewer"}, page="/admin/admins/")
    assert response.status_code == 422
    assert "the estate&#39;s last manager" in response.get_data(as_text=True)
    assert everything(world) == before


def test_a_manager_may_step_down_when_another_manager_remains(client, auth, world, colleague):
    auth.login(world.admin.email)
    auth.post(f"/admin/admins/{colleague.id}/role", {"admin_role": "manager"}, page="/admin/admins/")
    response = auth.post(f"/admin/admins/{world.admin.id}/role", {"admin_role": "viewer"}, page="/admin/admins/")
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, world.admin.id).admin_role == "viewer"
    # Now a viewer: the next change is refused.
    again = auth.post(f"/admin/admins/{colleague.id}/role", {"admin_role": "viewer"}, page="/admin/admins/")
    assert again.status_code == 403


@pytest.mark.parametrize("value", ["owner", "", "manager" * 50, "platform_admin"])
def test_a_role_that_is_not_one_says_so_and_changes_nothing(client, auth, world, colleague, value):
    auth.login(world.admin.email)
    before = everything(world)
    response = auth.post(f"/admin/admins/{colleague.id}/role", {"admin_role": value}, page="/admin/admins/")
    assert response.status_code == 422
    assert "Choose manager, finance or viewer." in response.get_data(as_text=True)
    assert everything(world) == before


def test_a_resident_or_an_unknown_id_is_not_an_admin_to_set(client, auth, world):
    auth.login(world.admin.email)
    for user_id in (world.owner.id, world.other_admin.id, 987654):
        response = auth.post(f"/admin/admins/{user_id}/role", {"admin_role": "viewer"}, page="/admin/admins/")
        assert response.status_code == 404


def test_the_admins_page_lists_the_estates_admins_only(client, auth, world, colleague):
    auth.login(world.admin.email)
    html = client.get("/admin/admins/").get_data(as_text=True)
    assert f'id="admin-{colleague.id}"' in html and f'id="admin-{world.admin.id}"' in html
    assert f'id="admin-{world.other_admin.id}"' not in html


def test_a_viewer_sees_the_roles_without_a_form_to_change_them(client, auth, world, colleague):
    viewer = admin_with_role(world.estate, "viewer", "viewer@example.com")
    auth.login(viewer.email)
    html = client.get("/admin/admins/").get_data(as_text=True)
    assert f'id="admin-{colleague.id}"' in html and "/role" not in html


def test_a_new_estate_admin_is_a_manager_unless_given_a_role(world):
    assert world.admin.admin_role == "manager" and world.owner.admin_role is None


@pytest.mark.parametrize(("role", "shown"), [("manager", True), ("finance", False), ("viewer", False)])
def test_the_catalogue_offers_changes_only_to_roles_that_may_make_them(client, auth, world, role, shown):
    admin = world.admin if role == "manager" else admin_with_role(world.estate, role, f"{role}@example.com")
    auth.login(admin.email)
    index = client.get("/admin/catalogue/").get_data(as_text=True)
    edit = client.get(f"/admin/catalogue/{world.entry.id}/edit").get_data(as_text=True)
    assert ("Add an entry" in index) is shown and ("/deactivate" in index) is shown
    assert ('id="read-only"' not in edit) is shown


@pytest.mark.parametrize(("role", "shown"), [("manager", True), ("finance", True), ("viewer", False)])
def test_payment_actions_are_offered_only_to_roles_that_may_take_them(client, auth, world, role, shown):
    admin = world.admin if role == "manager" else admin_with_role(world.estate, role, f"{role}@example.com")
    auth.login(admin.email)
    detail = client.get(f"/admin/payments/{world.payment.id}").get_data(as_text=True)  # a held payment
    assert ('id="payment-actions"' in detail) is shown
    bills = client.get("/admin/bills/").get_data(as_text=True)
    assert ("Issue a bill" in bills) is shown


def test_two_managers_demoting_each_other_at_once_leave_one_manager(app, world, colleague, require_postgres):
    import threading

    from webapp.services import admin_roles

    admin_roles.set_admin_role(world.estate.id, colleague.id, "manager")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(user_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                admin_roles.set_admin_role(world.estate.id, user_id, "viewer")
                outcomes.append("demoted")
            except admin_roles.RoleRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=demote, args=(user_id,)) for user_id in (world.admin.id, colleague.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["demoted", "refused"]
    db.session.rollback()
    roles = db.session.scalars(select(User.admin_role).where(User.estate_id == world.estate.id,
                                                             User.role == "estate_admin")).all()
    assert sorted(roles) == ["manager", "viewer"]
