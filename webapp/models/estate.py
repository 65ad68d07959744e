"""Estates (clusters): the unit residents join and admins manage."""
from __future__ import annotations

import secrets

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import TimestampMixin

# Invite codes avoid look-alike characters (0/O, 1/I) so they can be read out over the phone.
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


class Estate(TimestampMixin, db.Model):
    __tablename__ = "estates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    invite_code: Mapped[str] = mapped_column(String(16), unique=True, nullable=False, default=new_invite_code)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Africa/Lagos")
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="NGN")

    residents = db.relationship("User", back_populates="estate", lazy="dynamic")

    def __repr__(self) -> str:
        return f"<Estate {self.id} {self.name!r}>"
