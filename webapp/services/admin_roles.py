"""Admin roles within an estate: who the estate's admins are, and a manager setting one's role.

An estate always keeps at least one manager: the estate's admin rows are locked while the change is
checked, so two managers demoting each other at the same moment cannot both succeed.
"""
from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ADMIN_ROLE_LABELS, AdminRole, Role, User
from webapp.services import audit


class RoleRefused(ValueError):
    """A role change we refuse before anything is written, with a message for the page."""


def estate_admins(estate_id: int) -> list[User]:
    """The estate's admins, by name."""
    return list(db.session.scalars(
        select(User).where(User.estate_id == estate_id, User.role == Role.ESTATE_ADMIN.value)
        .order_by(User.full_name, User.id)))


def set_admin_role(estate_id: int, user_id: int, admin_role: str) -> User:
    """Give the estate's admin ``user_id`` the role ``admin_role`` (audited, committed).

    Refused (``RoleRefused``, nothing written) for a role that is not one, a user who is not an
    admin of this estate, or a change that would leave the estate without a manager.
    """
    if admin_role not in set(AdminRole):
        raise RoleRefused("Choose manager, finance or viewer.")
    # Every admin row of the estate, locked (FOR UPDATE on PostgreSQL; SQLite serialises writers) and
    # read afresh: the request has already loaded some of them (the signed-in admin, the one named).
    admins = list(db.session.scalars(
        select(User).where(User.estate_id == estate_id, User.role == Role.ESTATE_ADMIN.value)
        .order_by(User.id).with_for_update().execution_options(populate_existing=True)))
    target = next((admin for admin in admins if admin.id == user_id), None)
    if target is None:
        db.session.rollback()
        raise RoleRefused("That person is not an admin of this estate.")
    if target.admin_role == admin_role:
        db.session.rollback()
        return target
    managers = [admin for admin in admins if admin.admin_role == AdminRole.MANAGER and admin.is_active]
    if target.admin_role == AdminRole.MANAGER and managers == [target]:
        db.session.rollback()
        raise RoleRefused(f"{target.full_name} is the estate's last manager; make another admin a manager first.")
    before = audit.snapshot(target, ("admin_role",))
    target.admin_role = admin_role
    audit.record("admin.role", "user", target.id, estate_id=estate_id, before=before,
                 after=audit.snapshot(target, ("admin_role",)),
                 reason=f"{target.full_name} is now {ADMIN_ROLE_LABELS[AdminRole(admin_role)].lower()}")
    db.session.commit()
    return target
