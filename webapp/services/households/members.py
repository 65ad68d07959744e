"""Inviting members to a household, accepting, changing a role or limit, removing.

An invitation is an email through the outbox (its dedup key names the invitation and its token,
so a replayed request never sends twice). The link is signed and carries the invitation's id and
a random token whose SHA-256 alone is stored: a leaked database cannot be turned into links, and
a link is dead once accepted, removed or replaced. It is accepted only by someone signed in with
the invited address.
"""
from __future__ import annotations

import hashlib
import secrets

from flask import current_app, url_for
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.infra.bulk_writes import insert_once
from webapp.models import EmailMessage, HouseholdMember, MemberRole, MembershipStatus, User
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.request_numbers import parse_id
from webapp.services import audit
from webapp.services.identity.credentials import AccountError, normalise_email
from webapp.services.notify.channels import absolute_url, email_written
from webapp.services.notify.jobs import enqueue_pending_emails

INVITE_DAYS = 7
LINK_ERROR = "This invitation has expired, was withdrawn or has already been used. Ask for a new one."
LIVE = (MembershipStatus.INVITED.value, MembershipStatus.ACTIVE.value)


class HouseholdError(ValueError):
    """A household request we refuse (nothing changed), with a message for the page."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="autopay.household-invite")


def _checked_role(role: str | None, monthly_limit_kobo: int | None) -> tuple[str, int | None]:
    try:
        role = MemberRole(role or "")
    except ValueError:
        raise HouseholdError("Choose viewer, payer or co-owner.", "role") from None
    if role == MemberRole.PAYER:
        if monthly_limit_kobo is None:
            raise HouseholdError("Enter the most a payer may spend each month, like 20000.", "monthly_limit")
        if type(monthly_limit_kobo) is not int or monthly_limit_kobo < 0:
            raise HouseholdError("Enter a monthly limit in naira, like 20000.", "monthly_limit")
        return role.value, monthly_limit_kobo
    return role.value, None  # only payers have a limit


def members_of(owner_id: int) -> list[HouseholdMember]:
    """The household's invitations and members, live ones first, then the removed (their history stays)."""
    return list(db.session.scalars(
        select(HouseholdMember).where(HouseholdMember.owner_id == owner_id)
        .options(joinedload(HouseholdMember.member))
        .order_by(HouseholdMember.status == MembershipStatus.REMOVED.value, HouseholdMember.id)))


def membership_of(owner_id: int, membership_id) -> HouseholdMember | None:
    """One of the household's rows by an id from outside; None for anyone else's (a 404)."""
    membership_id = parse_id(membership_id)
    if membership_id is None:
        return None
    return db.session.scalar(select(HouseholdMember).where(HouseholdMember.id == membership_id,
                                                           HouseholdMember.owner_id == owner_id))


def active_memberships(member_id: int) -> list[HouseholdMember]:
    """The households ``member_id`` belongs to, with their owners (for the switcher)."""
    return list(db.session.scalars(
        select(HouseholdMember).where(HouseholdMember.member_id == member_id,
                                      HouseholdMember.status == MembershipStatus.ACTIVE.value)
        .options(joinedload(HouseholdMember.owner)).order_by(HouseholdMember.id)))


def invite(owner: User, email: str, role: str, monthly_limit_kobo: int | None) -> HouseholdMember:
    """Invite ``email`` to ``owner``'s household as ``role`` and queue the email; commits."""
    try:
        address = normalise_email(email)
    except AccountError as exc:
        raise HouseholdError(str(exc), "email") from None
    role, limit = _checked_role(role, monthly_limit_kobo)
    if address == owner.email:
        raise HouseholdError("That address belongs to the household owner.", "email")
    live = db.session.scalar(select(HouseholdMember.status).where(
        HouseholdMember.owner_id == owner.id, HouseholdMember.invited_email == address,
        HouseholdMember.status.in_(LIVE)))
    if live is not None:
        already = "is already a member" if live == MembershipStatus.ACTIVE.value else "already has an invitation"
        raise HouseholdError(f"{address} {already}.", "email")
    token = secrets.token_urlsafe(32)
    row = HouseholdMember(owner_id=owner.id, invited_email=address, role=role, monthly_limit_kobo=limit,
                          invite_token_hash=_hash(token), status=MembershipStatus.INVITED.value)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # the same address invited by a request that committed first
        db.session.rollback()
        raise HouseholdError(f"{address} already has an invitation.", "email") from None
    _queue_invite_email(owner, row, token)
    audit.record("household.invite", "household_member", row.id, estate_id=owner.estate_id,
                 after={"email": address, "role": role, "monthly_limit_kobo": limit})
    db.session.commit()
    enqueue_pending_emails()
    return row


def _queue_invite_email(owner: User, row: HouseholdMember, token: str) -> None:
    link = absolute_url(url_for("households.accept", token=_serializer().dumps({"m": row.id, "t": token})))
    role = row.role_label.lower()
    limit = f" You may spend up to {naira(row.monthly_limit_kobo)} a month." if row.role == MemberRole.PAYER else ""
    body = (f"Hello,\n\n{owner.full_name} invited you to their household on Utility Autopay as a {role}.{limit}\n\n"
            f"To accept, sign in (or sign up) with {row.invited_email} and open this link within {INVITE_DAYS} "
            f"days:\n\n{link}\n\nIf you do not know {owner.full_name}, ignore this email.\n\nUtility Autopay\n")
    insert_once(EmailMessage, {
        "user_id": owner.id, "to_address": row.invited_email, "body_text": body,
        "subject": f"{owner.full_name} invited you to their household",
        "dedup_key": f"household-invite:{row.id}:{row.invite_token_hash[:16]}",
    }, then=email_written)


def pending_invitation(signed: str) -> HouseholdMember | None:
    """The invitation a link names, if it is still open; None for a bad, old or used link."""
    try:
        data = _serializer().loads(signed, max_age=INVITE_DAYS * 86400)
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return None
    row = db.session.scalar(select(HouseholdMember).where(
        HouseholdMember.id == parse_id(data.get("m")), HouseholdMember.invite_token_hash == _hash(data["t"]),
        HouseholdMember.status == MembershipStatus.INVITED.value).options(joinedload(HouseholdMember.owner)))
    return row


def accept(signed: str, user: User) -> HouseholdMember:
    """``user`` accepts the invitation the link names; commits. Only once, only by the invited address."""
    row = pending_invitation(signed)
    if row is None:
        raise HouseholdError(LINK_ERROR)
    if not user.is_resident:
        raise HouseholdError("Only residents can join a household.")
    if user.email != row.invited_email:
        raise HouseholdError(f"This invitation is for {row.invited_email}. Sign in with that address to accept it.")
    if user.id == row.owner_id:
        raise HouseholdError("You cannot join your own household.")
    # A conditional update: two tabs accepting at once make one member, the other finds it used.
    done = db.session.execute(
        update(HouseholdMember)
        .where(HouseholdMember.id == row.id, HouseholdMember.status == MembershipStatus.INVITED.value,
               HouseholdMember.invite_token_hash == row.invite_token_hash)
        .values(member_id=user.id, status=MembershipStatus.ACTIVE.value, accepted_at=utcnow(),
                invite_token_hash=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        db.session.rollback()
        raise HouseholdError(LINK_ERROR)
    audit.record("household.accept", "household_member", row.id, estate_id=user.estate_id,
                 after={"member_id": user.id})
    db.session.commit()
    db.session.refresh(row)
    return row


def change(owner: User, membership_id, role: str, monthly_limit_kobo: int | None) -> HouseholdMember:
    """Change a live member's role (and a payer's limit); commits."""
    row = membership_of(owner.id, membership_id)
    if row is None or row.status == MembershipStatus.REMOVED.value:
        raise HouseholdError("That member is no longer in the household.")
    before = {"role": row.role, "monthly_limit_kobo": row.monthly_limit_kobo}
    row.role, row.monthly_limit_kobo = _checked_role(role, monthly_limit_kobo)
    audit.record("household.change", "household_member", row.id, estate_id=owner.estate_id, before=before,
                 after={"role": row.role, "monthly_limit_kobo": row.monthly_limit_kobo})
    db.session.commit()
    return row


def remove(owner: User, membership_id) -> HouseholdMember:
    """Remove a member or withdraw an invitation; commits. The row stays (who made which payment)."""
    row = membership_of(owner.id, membership_id)
    if row is None or row.status == MembershipStatus.REMOVED.value:
        raise HouseholdError("That member is no longer in the household.")
    row.status, row.removed_at, row.invite_token_hash = MembershipStatus.REMOVED.value, utcnow(), None
    audit.record("household.remove", "household_member", row.id, estate_id=owner.estate_id,
                 after={"email": row.invited_email})
    db.session.commit()
    return row
