"""Households: memberships of a resident's household, made directly (the invite flow has its own tests)."""
from __future__ import annotations

import factory

from webapp.models import HouseholdMember, User
from webapp.models.base import utcnow

from .factories import CommittedFactory, UserFactory


class HouseholdMemberFactory(CommittedFactory):
    """An active member of ``owner``'s household, a viewer unless told."""

    class Meta:
        model = HouseholdMember

    owner = factory.SubFactory(UserFactory)
    member = factory.SubFactory(UserFactory, estate=factory.SelfAttribute("..owner.estate"))
    invited_email = factory.SelfAttribute("member.email")
    role = "viewer"
    monthly_limit_kobo = factory.Maybe(factory.LazyAttribute(lambda row: row.role == "payer"),
                                       yes_declaration=20_000_00, no_declaration=None)
    status = "active"
    accepted_at = factory.LazyFunction(utcnow)


def make_member(owner: User, member: User, role: str = "viewer", monthly_limit_kobo: int | None = None,
                **fields) -> HouseholdMember:
    """``member`` in ``owner``'s household as ``role`` (a payer's limit ₦20,000 unless given)."""
    extra = {"monthly_limit_kobo": monthly_limit_kobo} if monthly_limit_kobo is not None else {}
    return HouseholdMemberFactory(owner=owner, member=member, role=role, **extra, **fields)
