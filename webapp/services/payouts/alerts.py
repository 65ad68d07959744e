"""Telling the estate's admins about payouts: a request that needs a second admin, the outcome of a
payout they asked for or approved, and one unresolved for too long.

Each is an ``AdminAlert`` on the estate's admin pages (open until it is dealt with) and a
notification (in the inbox and by email by default) with a dedup key naming the fact, so a replayed
job tells nobody twice. Everything is written in the caller's transaction.
"""
from __future__ import annotations

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra import bulk_writes
from webapp.models import AdminAlert, AdminRole, Payout, PayoutAccount, PayoutStatus, Role, User
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.services import notify
from webapp.services.notify.events import NotificationEvent

S = PayoutStatus
# The admin roles that may approve a payout: those holding ``Right.PAYOUTS`` in
# ``webapp/admin/permissions.RIGHTS`` (a test keeps the two the same).
APPROVER_ROLES = (AdminRole.MANAGER.value, AdminRole.FINANCE.value)


def _link(payout: Payout) -> str:
    return f"/admin/payouts/{payout.id}"


def approvers(estate_id: int, except_id: int | None = None) -> list[User]:
    """The estate's active admins who may approve a payout, but the one named."""
    users = db.session.scalars(select(User).where(
        User.estate_id == estate_id, User.role == Role.ESTATE_ADMIN.value,
        User.admin_role.in_(APPROVER_ROLES)).order_by(User.id))
    return [user for user in users if user.is_active and user.id != except_id]


def _alert(payout: Payout, kind: str, message: str) -> None:
    """One alert per payout and kind (``dedup_key``), however often the fact is seen."""
    bulk_writes.insert_once(AdminAlert, dict(
        estate_id=payout.estate_id, kind=kind, payout_id=payout.id, message=message[:255],
        dedup_key=f"{kind.replace('_', '-')}:{payout.reference}", created_at=utcnow(),
        details={"reference": payout.reference, "amount_kobo": payout.amount_kobo, "gateway": payout.gateway,
                 "provider_id": payout.provider_id, "gateway_message": payout.gateway_message}))


def approval_needed(payout: Payout, account: PayoutAccount, by: User) -> None:
    message = (f"{by.full_name} asks to pay {naira(payout.amount_kobo)} to {account.label} "
               f"({payout.narration}). A second admin must approve it.")
    _alert(payout, "payout_approval", message)
    for admin in approvers(payout.estate_id, except_id=by.id):
        notify.notify(admin.id, NotificationEvent.PAYOUT_APPROVAL, title=f"Payout of {naira(payout.amount_kobo)} "
                      "awaits your approval", body=message, link=_link(payout),
                      dedup_key=f"payout:{payout.reference}:approval:{admin.id}")


def decided(payout: Payout) -> None:
    """The request was approved, rejected or withdrawn: its approval alert is dealt with."""
    db.session.execute(update(AdminAlert).where(AdminAlert.payout_id == payout.id,
                                                AdminAlert.kind == "payout_approval",
                                                AdminAlert.resolved_at.is_(None)).values(resolved_at=utcnow()))


OUTCOME_WORDS = {
    S.SUCCEEDED: ("Payout of {amount} paid", "{amount} reached {account}."),
    S.FAILED: ("Payout of {amount} failed", "{amount} to {account} did not go through ({why}). The money is "
                                            "back in the estate wallet."),
    S.REVERSED: ("Payout of {amount} reversed", "The bank sent back {amount} paid to {account} ({why}). The "
                                                "money is back in the estate wallet."),
}


def outcome(payout: Payout) -> None:
    """Tell whoever asked for and approved the payout how it ended; a failure or reversal is also
    an alert, since estate money did not arrive where it was meant to."""
    status = S(payout.status)
    words = OUTCOME_WORDS.get(status)
    if words is None:
        return
    account = db.session.get(PayoutAccount, payout.payout_account_id)
    values = {"amount": naira(payout.amount_kobo), "account": account.label if account else "the estate's account",
              "why": payout.gateway_message or "the gateway gave no reason"}
    title, body = words[0].format(**values), words[1].format(**values)
    if status is not S.SUCCEEDED:
        _alert(payout, f"payout_{status.value}", body)
    for user_id in {payout.requested_by_id, payout.approved_by_id} - {None}:
        notify.notify(user_id, NotificationEvent.PAYOUT_OUTCOME, title=title, body=body, link=_link(payout),
                      dedup_key=f"payout:{payout.reference}:{status.value}:{user_id}")


def settled(payout: Payout) -> None:
    """A payout settled at last: its "unresolved" alert is dealt with."""
    db.session.execute(update(AdminAlert).where(AdminAlert.payout_id == payout.id,
                                                AdminAlert.kind == "payout_unresolved",
                                                AdminAlert.resolved_at.is_(None)).values(resolved_at=utcnow()))


def unresolved(payout: Payout, waited: str) -> None:
    _alert(payout, "payout_unresolved",
           f"Payout {payout.reference} of {naira(payout.amount_kobo)} is still unconfirmed by "
           f"{payout.gateway.capitalize()} after {waited}. We keep asking; check it with the gateway's dashboard.")
