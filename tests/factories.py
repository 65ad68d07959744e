"""Test data factories (factory_boy), and the ``make_*`` functions tests call.

Why they look the way they do:

- Every factory commits its row (``sqlalchemy_session_persistence = "commit"`` on the app's own
  ``db.session``): the code under test often reads through another session (an RQ worker, a second
  request), which sees only committed rows.
- Unique columns come from ``Sequence`` so any number of objects can be made in one test; the
  defaults are values the app accepts (and, for catalogue entries, codes the sandbox knows).
- Relations are ``SubFactory`` (a user without an estate gets a fresh one) so a test names only
  what it cares about; derived columns (an automation's schedule, a payment's reference) are
  computed from the fields a test did give.
- A user's password goes through ``User.set_password``, the app's own hashing, as a post-generation
  step; it is cheap under tests because ``tests/conftest.py`` sets ``PASSWORD_HASH_METHOD``.
- The ``make_*`` functions keep the call style used across the suite (``make_user(estate=...)``,
  ``make_payment(user, account, "unknown")``); they are thin entry points over the factories.
"""
from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from webapp.extensions import db
from webapp.models import Estate, User

TEST_PASSWORD = "correct-horse-9"


class CommittedFactory(SQLAlchemyModelFactory):
    """Base of every factory here: rows are committed on the app's session."""

    class Meta:
        abstract = True
        sqlalchemy_session = db.session
        sqlalchemy_session_persistence = "commit"


class EstateFactory(CommittedFactory):
    class Meta:
        model = Estate

    name = factory.Sequence(lambda n: f"Estate {n}")
    invite_code = factory.Sequence(lambda n: f"EST{n:05d}")


class UserFactory(CommittedFactory):
    """A resident of a fresh estate, password ``TEST_PASSWORD``; platform admins live in no estate."""

    class Meta:
        model = User
        # password_hash is NOT NULL, so the row is committed only once ``password`` has run.
        sqlalchemy_session_persistence = None

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = "Test Person"
    role = "resident"
    estate = factory.Maybe(
        factory.LazyAttribute(lambda user: user.role == "platform_admin"),
        yes_declaration=None,
        no_declaration=factory.SubFactory(EstateFactory),
    )
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            cls._meta.sqlalchemy_session.commit()


class UserIdFactory(CommittedFactory):
    """Base of factories for rows that hold only a ``user_id`` (no ``user`` relationship on the
    model): ``user`` is a parameter, a fresh resident unless given."""

    class Meta:
        abstract = True

    class Params:
        user = factory.SubFactory(UserFactory)

    user_id = factory.SelfAttribute("user.id")


def given(**values) -> dict:
    """The arguments a caller actually gave: ``None`` means "the factory's default" here."""
    return {name: value for name, value in values.items() if value is not None}


def make_estate(name: str | None = None, invite_code: str | None = None, **fields) -> Estate:
    """An estate with a unique name and invite code unless given."""
    return EstateFactory(**given(name=name, invite_code=invite_code), **fields)


def make_user(estate: Estate | None = None, email: str | None = None, role: str = "resident",
              password: str = TEST_PASSWORD, full_name: str = "Test Person", **fields) -> User:
    """A user of ``estate`` (a fresh estate when none is given, except for a platform admin)."""
    return UserFactory(**given(estate=estate, email=email), role=role, password=password, full_name=full_name,
                       **fields)
