"""People who sign in: residents, estate admins and platform admins."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models.base import TimestampMixin, UTCDateTime


def hash_password(password: str) -> str:
    """Werkzeug's scrypt hash; the test suite's config names a cheap method (``PASSWORD_HASH_METHOD``)
    so thousands of test users do not each pay for scrypt. Production never reads it from the
    environment, and ``check_production`` refuses anything but the default there."""
    from flask import current_app, has_app_context

    method = current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None
    return generate_password_hash(password, method=method or "scrypt")


class Role(enum.StrEnum):
    RESIDENT = "resident"
    ESTATE_ADMIN = "estate_admin"
    PLATFORM_ADMIN = "platform_admin"


class AdminRole(enum.StrEnum):
    """What an estate admin may do in their estate (``webapp.admin.permissions`` maps it to rights)."""

    MANAGER = "manager"  # everything, including other admins' roles
    FINANCE = "finance"  # bills, payments, reconciliation and exports; no catalogue, no roles
    VIEWER = "viewer"  # read only


ADMIN_ROLE_LABELS = {AdminRole.MANAGER: "Manager", AdminRole.FINANCE: "Finance", AdminRole.VIEWER: "Viewer"}


def _default_admin_role(context) -> str | None:
    # An estate admin created without a role (``flask create-admin``, the demo seed) runs the estate.
    return AdminRole.MANAGER.value if context.get_current_parameters().get("role") == Role.ESTATE_ADMIN else None


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('resident', 'estate_admin', 'platform_admin')", name="role_known"
        ),
        # Only platform admins may live outside an estate.
        CheckConstraint("estate_id IS NOT NULL OR role = 'platform_admin'", name="estate_required"),
        # Every estate admin has exactly one admin role; nobody else has one.
        CheckConstraint("(role = 'estate_admin' AND admin_role IN ('manager', 'finance', 'viewer'))"
                        " OR (role <> 'estate_admin' AND admin_role IS NULL)", name="admin_role_matches_role"),
        CheckConstraint("(sms_quiet_start IS NULL) = (sms_quiet_end IS NULL) AND sms_quiet_start BETWEEN 0 AND 1439 "
                        "AND sms_quiet_end BETWEEN 0 AND 1439 AND sms_quiet_start <> sms_quiet_end",
                        name="sms_quiet_hours_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased (see ``normalise_email``) so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    full_name: Mapped[str] = mapped_column(String(120), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, e.g. +2348031234567
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False, default=Role.RESIDENT.value)
    admin_role: Mapped[str | None] = mapped_column(String(10), default=_default_admin_role)
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estates.id"), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Quiet hours for SMS, minutes after midnight in ``effective_timezone`` (both NULL: none). A
    # start after the end spans midnight (22:00-07:00 is 1320 and 420).
    sms_quiet_start: Mapped[int | None] = mapped_column(SmallInteger)
    sms_quiet_end: Mapped[int | None] = mapped_column(SmallInteger)
    is_active_flag: Mapped[bool] = mapped_column("is_active", Boolean, nullable=False, default=True)
    # Bumped to sign out every session of this person (logout, password change, an admin's
    # "sign out everywhere"): a session carrying an older version is no longer accepted.
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    estate = db.relationship("Estate", back_populates="residents")

    # Flask-Login reads ``is_active``; keep the column name readable in SQL too.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.is_active_flag

    @property
    def is_resident(self) -> bool:
        return self.role == Role.RESIDENT

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.ESTATE_ADMIN, Role.PLATFORM_ADMIN)

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.PLATFORM_ADMIN

    @property
    def acting_role(self) -> str:
        """The role this person acts under, as the audit log records it: an estate admin's admin
        role, else the account's role."""
        return self.admin_role if self.role == Role.ESTATE_ADMIN and self.admin_role else self.role

    @property
    def effective_timezone(self) -> str:
        if self.timezone:
            return self.timezone
        return self.estate.timezone if self.estate else "Africa/Lagos"

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
