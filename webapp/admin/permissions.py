"""What each admin role may do, checked once for every admin route (``check_permission`` runs in
the blueprint's ``before_request``).

Every admin view declares the right its changes need with ``@needs(Right.X)``; reading (GET, HEAD)
only ever needs ``Right.READ``, which every admin has. A view that declares nothing is refused to
everyone but the platform admin, and ``tests/test_admin_roles.py`` fails until it declares a right.

The check comes before the view looks anything up, so an admin without the right gets 403 whatever
the id in the URL (it says nothing about whether the id exists); an admin with the right still gets
404 for another estate's ids from ``scope``.
"""
from __future__ import annotations

import enum
from collections.abc import Callable

from flask import abort, current_app, request
from flask_login import current_user

from webapp.models import AdminRole

READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ATTRIBUTE = "admin_right"


class Right(enum.StrEnum):
    READ = "read"  # every admin GET page, the exports included
    PAYMENTS = "payments"  # approve, reject, refund, requery; resolve alerts
    BILLS = "bills"  # issue and cancel estate bills
    CATALOGUE = "catalogue"  # add, edit, switch on and off, sync the provider catalogue
    RESIDENTS = "residents"  # sign a resident out everywhere
    ROLES = "roles"  # set other admins' roles
    PAYOUTS = "payouts"  # ask for, approve, reject and withdraw payouts; add and remove payout accounts


RIGHTS: dict[str, frozenset[Right]] = {
    AdminRole.MANAGER.value: frozenset(Right),
    AdminRole.FINANCE.value: frozenset({Right.READ, Right.PAYMENTS, Right.BILLS, Right.PAYOUTS}),
    AdminRole.VIEWER.value: frozenset({Right.READ}),
}


def needs(right: Right) -> Callable:
    """Declare the right a view's changes (POST) need; use under ``@bp.route``."""

    def mark(view: Callable) -> Callable:
        setattr(view, ATTRIBUTE, right)
        return view

    return mark


def declared_right(endpoint: str | None) -> Right | None:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, ATTRIBUTE, None)


def may(user, right: Right) -> bool:
    """Whether this admin holds ``right`` (the platform admin holds every right)."""
    if user.is_platform_admin:
        return True
    return right in RIGHTS.get(user.admin_role or "", frozenset())


def check_permission():
    """403 when the signed-in admin's role lacks the right this request needs."""
    if current_user.is_platform_admin:
        return None
    declared = declared_right(request.endpoint)
    if declared is None:
        abort(403)  # a view nobody declared a right for: closed until it says which
    needed = Right.READ if request.method in READING_METHODS else declared
    if not may(current_user, needed):
        abort(403)
    return None
