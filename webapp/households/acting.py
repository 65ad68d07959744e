"""Who a request acts for: the signed-in resident themselves, or a household they belong to.

The choice is the membership id kept in the session; every request reads it again through
``access.household_scope``, so a member removed (or whose role changed) is switched back or
limited at their very next request. The household blueprints (accounts, pay, history,
automations) read their rows through ``scope()`` and their owner through ``owner()``, and guard
what a role may do once per blueprint with ``enforce_role``.
"""
from __future__ import annotations

from flask import abort, flash, request, session
from flask_login import current_user

from webapp.errors import render_error
from webapp.extensions import db
from webapp.models import MemberRole, User
from webapp.services import access, households

SESSION_KEY = "household_membership"
# The households the person belongs to, ``[[membership id, owner's name], ...]``, for the header's
# switcher: read at sign-in, on accepting and on the household page, so that other pages cost no
# query for it. Only a choice is trusted after checking it (``household_scope``), never this list.
CHOICES_KEY = "household_choices"
REMOVED = "You are no longer a member of that household, so you are acting as yourself again."

# Pages a viewer may open: they show the household's accounts, payments, tokens and automations.
VIEWER_PAGES = frozenset({
    "utility_accounts.index", "pay.status_page", "history.index", "history.detail", "history.receipt",
    "history.export_csv", "automations.index", "automations.detail",
})
# What a payer may do besides: pay, and manage automations. Not the owner's autopay settings, nor
# the pages that project the wallet's balance and the owner's estate bills (upcoming, activity).
PAYER_AREAS = ("pay.", "history.", "automations.")
MANAGER_ONLY = frozenset({"automations.settings_page", "automations.upcoming_page", "automations.next_payments",
                          "automations.activity_page"})
REFUSALS = {
    MemberRole.VIEWER: "As a viewer of this household you can see its accounts and payments, but not change them.",
    MemberRole.PAYER: "Only the household's owner and co-owners can do that.",
}
# The object each URL id names, looked up in the household's scope before a refusal (so an id
# outside it is a 404 like everywhere else, never a 403 that says it exists).
_LOOKUPS = {"payment_id": access.own_payment, "automation_id": access.own_automation,
            "account_id": access.own_utility_account}


_SCOPE_KEY = "autopay.household_scope"


def scope() -> access.Scope:
    """The current request's scope, computed once per request (kept on the request itself: an app
    context, and ``g`` with it, may outlive one request)."""
    found = request.environ.get(_SCOPE_KEY)
    if found is None:
        found = request.environ[_SCOPE_KEY] = _resolve()
    return found


def _resolve() -> access.Scope:
    chosen = session.get(SESSION_KEY)
    if chosen is not None:
        found = access.household_scope(current_user.id, chosen)
        if found is not None:
            return found
        session.pop(SESSION_KEY, None)
        remember_choices(current_user.id)
        flash(REMOVED, "info")
    return access.Scope.own(current_user.id)


def remember_choices(user_id: int) -> None:
    """Note in the session which households ``user_id`` belongs to (for the switcher)."""
    choices = [[m.id, m.owner.full_name] for m in households.active_memberships(user_id)]
    if choices:
        session[CHOICES_KEY] = choices
    else:
        session.pop(CHOICES_KEY, None)


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
    request.environ.pop(_SCOPE_KEY, None)


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
