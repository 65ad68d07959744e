"""Who a request acts for: the signed-in resident themselves, or a household they belong to.

The choice is the membership id kept in the session; every request reads it again through
``access.household_scope``, so a member removed (or whose role changed) is switched back or
limited at their very next request. The household blueprints (accounts, pay, history,
automations) read their rows through ``scope()`` and their owner through ``owner()``, and guard
what a role may do once per blueprint with ``enforce_role``.
"""
from __future__ import annotations

from flask import abort, flash, g, request, session
from flask_login import current_user

from webapp.errors import render_error
from webapp.extensions import db
from webapp.models import MemberRole, User
from webapp.services import access

SESSION_KEY = "household_membership"
REMOVED = "You are no longer a member of that household, so you are acting as yourself again."

# Pages a viewer may open: they show the household's accounts, payments, tokens and automations.
VIEWER_PAGES = frozenset({
    "utility_accounts.index", "pay.status_page", "history.index", "history.detail", "history.receipt",
    "history.export_csv", "automations.index", "automations.detail", "automations.activity_page",
    "automations.upcoming_page", "automations.next_payments",
})
# What a payer may do besides: pay, and manage automations (not the owner's autopay settings).
PAYER_AREAS = ("pay.", "history.", "automations.")
MANAGER_ONLY = frozenset({"automations.settings_page"})
REFUSALS = {
    MemberRole.VIEWER: "As a viewer of this household you can see its accounts and payments, but not change them.",
    MemberRole.PAYER: "Only the household's owner and co-owners can do that.",
}
# The object each URL id names, looked up in the household's scope before a refusal (so an id
# outside it is a 404 like everywhere else, never a 403 that says it exists).
_LOOKUPS = {"payment_id": access.own_payment, "automation_id": access.own_automation,
            "account_id": access.own_utility_account}


def scope() -> access.Scope:
    """The current request's scope (computed once per request)."""
    found = g.get("household_scope")
    if found is None:
        found = _resolve()
        g.household_scope = found
    return found


def _resolve() -> access.Scope:
    chosen = session.get(SESSION_KEY)
    if chosen is not None:
        found = access.household_scope(current_user.id, chosen)
        if found is not None:
            return found
        session.pop(SESSION_KEY, None)
        flash(REMOVED, "info")
    return access.Scope.own(current_user.id)


def owner() -> User:
    """Whose wallet and accounts this request works on."""
    current = scope()
    if not current.is_member:
        return current_user._get_current_object()
    return db.session.get(User, current.owner_id)


def actor() -> User:
    return current_user._get_current_object()


def choose(membership_id: int | None) -> None:
    """Act for that household (None: as oneself); the caller has checked it is the user's."""
    if membership_id is None:
        session.pop(SESSION_KEY, None)
    else:
        session[SESSION_KEY] = membership_id
    g.pop("household_scope", None)


def check_choice():
    """Before every request: a chosen household is checked (and dropped if no longer valid)."""
    if SESSION_KEY in session and current_user.is_authenticated and current_user.is_resident:
        scope()


def enforce_role():
    """Before every request of a household blueprint: what the member's role allows, else 403."""
    current = scope()
    endpoint = request.endpoint or ""
    if not current.is_member or current.may_manage:
        return None
    if endpoint in VIEWER_PAGES and request.method in ("GET", "HEAD"):
        return None
    if current.may_pay and endpoint.startswith(PAYER_AREAS) and endpoint not in MANAGER_ONLY:
        return None
    for name, lookup in _LOOKUPS.items():
        if name in (request.view_args or {}) and lookup(current, request.view_args[name]) is None:
            abort(404)
    return render_error(403, REFUSALS[MemberRole(current.role)])
