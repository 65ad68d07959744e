"""Small factories for test data; each commits so workers and other sessions can see the rows."""
from __future__ import annotations

import itertools

from webapp.extensions import db
from webapp.models import Estate, User

TEST_PASSWORD = "correct-horse-9"
_seq = itertools.count(1)


def make_estate(name: str | None = None, invite_code: str | None = None, **fields) -> Estate:
    n = next(_seq)
    estate = Estate(name=name or f"Estate {n}", invite_code=invite_code or f"EST{n:05d}", **fields)
    db.session.add(estate)
    db.session.commit()
    return estate


def make_user(estate: Estate | None = None, email: str | None = None, role: str = "resident",
              password: str = TEST_PASSWORD, full_name: str = "Test Person", **fields) -> User:
    n = next(_seq)
    if estate is None and role != "platform_admin":
        estate = make_estate()
    user = User(email=email or f"user{n}@example.com", full_name=full_name, role=role, estate=estate, **fields)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user
