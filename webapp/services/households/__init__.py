"""Households: a resident shares their wallet and linked accounts with members they invite."""
from webapp.services.households.members import (
    INVITE_DAYS,
    LINK_ERROR,
    HouseholdError,
    accept,
    active_memberships,
    change,
    invite,
    members_of,
    membership_of,
    pending_invitation,
    remove,
)

__all__ = ["INVITE_DAYS", "LINK_ERROR", "HouseholdError", "accept", "active_memberships", "change", "invite",
           "members_of", "membership_of", "pending_invitation", "remove"]
