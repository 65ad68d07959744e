"""Households, stage one: inviting by email, accepting by the signed link, and the owner's page."""
from __future__ import annotations

import hashlib
import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import EmailMessage, HouseholdMember

from . import factories
from .factories_households import make_member

LINK_RE = re.compile(r"/household/accept/(\S+)")


@pytest.fixture
def owner(estate):
    return factories.make_user(estate=estate, email="owner@example.com", full_name="Ada Owner")


@pytest.fixture
def invitee(estate):
    return factories.make_user(estate=estate, email="kemi@example.com", full_name="Kemi Member")


def rows() -> list[HouseholdMember]:
    db.session.expire_all()
    return list(db.session.scalars(select(HouseholdMember).order_by(HouseholdMember.id)))


def invite(auth, email="kemi@example.com", role="viewer", limit=""):
    return auth.post("/household/invite", {"email": email, "role": role, "monthly_limit": limit}, page="/household/")


def invite_link() -> str:
    body = db.session.scalars(select(EmailMessage.body_text).where(EmailMessage.dedup_key.like("household-invite:%"))
                              .order_by(EmailMessage.id.desc())).first()
    return "/household/accept/" + LINK_RE.search(body).group(1)


def test_an_invitation_is_one_outbox_email_with_a_link_and_only_the_tokens_hash_stored(client, auth, owner):
    auth.login(owner.email)
    response = invite(auth, email="  Kemi@Example.com ", role="payer", limit="15,000")
    assert response.status_code == 302
    [row] = rows()
    assert (row.invited_email, row.role, row.monthly_limit_kobo, row.status) == (
        "kemi@example.com", "payer", 15_000_00, "invited")
    [email] = db.session.scalars(select(EmailMessage).where(EmailMessage.to_address == "kemi@example.com")).all()
    assert email.dedup_key == f"household-invite:{row.id}:{row.invite_token_hash[:16]}"
    assert "Ada Owner invited you" in email.body_text and "₦15,000.00 a month" in email.body_text
    signed = LINK_RE.search(email.body_text).group(1)
    assert row.invite_token_hash not in signed and len(row.invite_token_hash) == 64


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "not-an-address", "role": "viewer"}, "Enter a valid email address"),
    ({"email": "kemi@example.com", "role": "payer", "monthly_limit": ""}, "Enter the most a payer may spend"),
    ({"email": "kemi@example.com", "role": "payer", "monthly_limit": "lots"}, "Enter"),
    ({"email": "kemi@example.com", "role": "admin"}, "Not a valid choice"),
    ({"email": "owner@example.com", "role": "viewer"}, "That address belongs to the household owner"),
], ids=["bad-email", "payer-without-limit", "unreadable-limit", "unknown-role", "own-address"])
def test_bad_invitations_are_refused_clearly_with_the_input_kept(client, auth, owner, data, message):
    auth.login(owner.email)
    response = invite(auth, data["email"], data["role"], data.get("monthly_limit", ""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and f'value="{data["email"]}"' in page
    assert rows() == [] and db.session.scalar(select(func.count()).select_from(EmailMessage)) == 0


def test_the_same_address_cannot_be_invited_twice(client, auth, owner):
    auth.login(owner.email)
    invite(auth)
    response = invite(auth)
    assert response.status_code == 422 and "already has an invitation" in response.get_data(as_text=True)
    assert len(rows()) == 1


def test_the_invited_address_accepts_while_signed_in_and_acts_for_the_household(client, auth, owner, invitee):
    auth.login(owner.email)
    invite(auth, role="co_owner")
    link = invite_link()
    auth.logout()
    assert "/auth/login" in client.get(link).headers["Location"]  # sign in first, then back here
    auth.login(invitee.email)
    page = client.get(link)
    assert page.status_code == 200 and "Ada Owner invited" in page.get_data(as_text=True)
    assert rows()[0].status == "invited"  # opening the link (a mail scanner) accepts nothing
    response = auth.post(link)
    assert response.status_code == 302
    [row] = rows()
    assert (row.status, row.member_id, row.invite_token_hash) == ("active", invitee.id, None)
    assert "Household Ada Owner" in client.get("/accounts/").get_data(as_text=True)  # the switcher


def test_an_invitation_is_not_accepted_by_another_signed_in_address(client, auth, owner, other_resident):
    auth.login(owner.email)
    invite(auth)
    link = invite_link()
    auth.logout()
    auth.login(other_resident.email)
    response = auth.post(link)
    assert response.status_code == 422
    assert "This invitation is for kemi@example.com" in response.get_data(as_text=True)
    assert rows()[0].status == "invited" and rows()[0].member_id is None


@pytest.mark.parametrize("mangle", [lambda link: link[:-3] + "xyz", lambda link: "/household/accept/junk"],
                         ids=["tampered", "junk"])
def test_a_tampered_link_is_refused(client, auth, owner, invitee, mangle):
    auth.login(owner.email)
    invite(auth)
    link = mangle(invite_link())
    auth.logout()
    auth.login(invitee.email)
    assert client.get(link).status_code == 400
    assert auth.post(link, page="/household/").status_code == 400
    assert rows()[0].status == "invited"


def test_a_used_or_withdrawn_link_is_dead(client, auth, owner, invitee):
    auth.login(owner.email)
    invite(auth)
    link = invite_link()
    row_id = rows()[0].id
    auth.post(f"/household/members/{row_id}/remove", page="/household/")
    assert rows()[0].status == "removed"
    auth.logout()
    auth.login(invitee.email)
    assert client.get(link).status_code == 400
    assert auth.post(link, page="/household/").status_code == 400
    assert rows()[0].member_id is None


def test_the_token_alone_is_not_stored(client, auth, owner):
    auth.login(owner.email)
    invite(auth)
    signed = invite_link().rsplit("/", 1)[1]
    token_hash = rows()[0].invite_token_hash
    # The stored hash is of the token the link carries, and the link is useless without the signature.
    serializer = URLSafeTimedSerializer(client.application.config["SECRET_KEY"], salt="autopay.household-invite")
    data = serializer.loads(signed)
    assert hashlib.sha256(data["t"].encode()).hexdigest() == token_hash


def test_the_owner_changes_a_role_and_limit(client, auth, owner, invitee):
    row = make_member(owner, invitee, role="viewer")
    auth.login(owner.email)
    response = auth.post(f"/household/members/{row.id}/change", {"role": "payer", "monthly_limit": "7500"},
                         page="/household/")
    assert response.status_code == 302
    assert (rows()[0].role, rows()[0].monthly_limit_kobo) == ("payer", 7_500_00)
    auth.post(f"/household/members/{row.id}/change", {"role": "viewer", "monthly_limit": "7500"}, page="/household/")
    assert (rows()[0].role, rows()[0].monthly_limit_kobo) == ("viewer", None)  # only payers have a limit


def test_a_bad_change_is_refused_with_the_input_kept(client, auth, owner, invitee):
    row = make_member(owner, invitee, role="payer", monthly_limit_kobo=5_000_00)
    auth.login(owner.email)
    response = auth.post(f"/household/members/{row.id}/change", {"role": "payer", "monthly_limit": "12abc"},
                         page="/household/")
    assert response.status_code == 422
    assert 'value="12abc"' in response.get_data(as_text=True)
    assert rows()[0].monthly_limit_kobo == 5_000_00


def test_removing_a_member_keeps_the_row(client, auth, owner, invitee):
    row = make_member(owner, invitee, role="payer")
    auth.login(owner.email)
    assert auth.post(f"/household/members/{row.id}/remove", page="/household/").status_code == 302
    [kept] = rows()
    assert (kept.status, kept.member_id) == ("removed", invitee.id) and kept.removed_at is not None


def test_another_households_member_ids_are_404(client, auth, owner, invitee, other_resident):
    row = make_member(owner, invitee, role="viewer")
    auth.login(other_resident.email)
    for action in ("change", "remove"):
        response = auth.post(f"/household/members/{row.id}/{action}", {"role": "co_owner"}, page="/household/")
        assert response.status_code == 404
    assert (rows()[0].role, rows()[0].status) == ("viewer", "active")


def test_a_link_older_than_a_week_is_refused(client, auth, owner, invitee, monkeypatch):
    from itsdangerous.timed import TimestampSigner

    from webapp.services.households import INVITE_DAYS

    auth.login(owner.email)
    invite(auth)
    link = invite_link()
    auth.logout()
    auth.login(invitee.email)
    signed_at = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp",
                        lambda self: signed_at(self) + INVITE_DAYS * 86400 + 60)
    assert client.get(link).status_code == 400
    assert rows()[0].status == "invited"
