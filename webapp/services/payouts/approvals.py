"""Maker-checker: one admin asks for a payout, a second admin approves it (or rejects it).

The admin who asked can never approve: the service refuses, and a database CHECK
(``two_people``) refuses the row as well. Asking reserves nothing in the ledger; the page shows
what is available (the estate wallet less the payouts waiting for approval) and refuses a request
beyond it. Approval is what moves money: the estate wallet pays payout clearing under the
wallet's lock (so two approvals can never overdraw it), in the same transaction as the status
move, and the transfer job is queued after that commit.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Payout, PayoutAccount, PayoutEvent, PayoutStatus, User
from webapp.models.base import utcnow
from webapp.money import naira
from webapp.services import audit, ledger
from webapp.services.payouts import alerts, jobs
from webapp.services.payouts.accounts import live_account
from webapp.services.payouts.common import move
from webapp.services.payouts.errors import PayoutRefused

S = PayoutStatus
MAX_NARRATION = 100


def new_reference(estate_id: int) -> str:
    """Lowercase letters, digits and underscores, 20-40 characters: within both gateways' rules."""
    return f"payout_{estate_id}_{secrets.token_hex(10)}"


def waiting_total(estate_id: int) -> int:
    """What the estate's payouts waiting for approval add up to, in kobo."""
    return int(db.session.scalar(select(func.coalesce(func.sum(Payout.amount_kobo), 0)).where(
        Payout.estate_id == estate_id, Payout.status == S.REQUESTED.value)) or 0)


def available(estate_id: int) -> int:
    """The estate wallet's balance less the payouts waiting for approval (never below zero)."""
    return max(0, ledger.estate_balance(estate_id) - waiting_total(estate_id))


def request_payout(estate_id: int, account_id: int | None, amount_kobo: int | None, narration: str,
                   by: User) -> Payout:
    """Ask for a payout to one of the estate's accounts (audited, committed). Refused
    (``PayoutRefused``, nothing written) for an account that is not the estate's, an amount outside
    the bounds or beyond what is available, or an empty description."""
    account = live_account(estate_id, account_id)
    if account is None:
        raise PayoutRefused("Choose one of the estate's payout accounts.", "account")
    if not isinstance(amount_kobo, int) or isinstance(amount_kobo, bool):
        raise PayoutRefused("Enter an amount in naira, such as 250,000.", "amount")
    low, high = current_app.config["PAYOUT_MIN_KOBO"], current_app.config["PAYOUT_MAX_KOBO"]
    if amount_kobo < low:
        raise PayoutRefused(f"The least a payout can be is {naira(low)}.", "amount")
    if amount_kobo > high:
        raise PayoutRefused(f"The most one payout can be is {naira(high)}; split it into several.", "amount")
    narration = " ".join((narration or "").split())
    if not narration:
        raise PayoutRefused("Say what the payout is for; the bank statement shows it.", "narration")
    if len(narration) > MAX_NARRATION:
        raise PayoutRefused(f"Keep the description to {MAX_NARRATION} characters.", "narration")
    ledger.lock_estate_wallet(estate_id)  # two requests at once cannot both count the same naira
    free = available(estate_id)
    if amount_kobo > free:
        raise PayoutRefused(f"Only {naira(free)} is available (the estate wallet less payouts waiting for "
                            "approval).", "amount")
    payout = Payout(reference=new_reference(estate_id), estate_id=estate_id, payout_account_id=account.id,
                    gateway=account.gateway, amount_kobo=amount_kobo, narration=narration,
                    status=S.REQUESTED.value, requested_by_id=by.id, requested_role=by.acting_role)
    db.session.add(payout)
    db.session.flush()
    db.session.add(PayoutEvent(payout_id=payout.id, from_status=None, to_status=S.REQUESTED.value,
                               reason="Asked for; waiting for a second admin", actor_id=by.id))
    alerts.approval_needed(payout, account, by)
    audit.record("payout.requested", "payout", payout.id, estate_id=estate_id,
                 after={"amount_kobo": amount_kobo, "account": account.label, "reference": payout.reference},
                 reason=f"Asked to pay {naira(amount_kobo)} to {account.label}: {narration}")
    db.session.commit()
    return payout


def _decidable(payout: Payout, by: User, verb: str) -> PayoutAccount:
    if payout.status != S.REQUESTED.value:
        raise PayoutRefused(f"This payout is {payout.status_label.lower()}; it can no longer be {verb}.")
    return db.session.get(PayoutAccount, payout.payout_account_id)


def approve(payout: Payout, by: User) -> Payout:
    """The second admin's approval: the money moves from the estate wallet to payout clearing and
    the transfer is queued (after the commit). Refused for the admin who asked, a request too old,
    an account removed meanwhile, or a wallet that no longer holds the amount."""
    account = _decidable(payout, by, "approved")
    if payout.requested_by_id == by.id:
        raise PayoutRefused("You asked for this payout, so another admin must approve it.")
    ttl = timedelta(seconds=current_app.config["PAYOUT_REQUEST_TTL_SECONDS"])
    if utcnow() - payout.created_at > ttl:
        raise PayoutRefused("This request is too old to approve; ask for the payout again.")
    if account is None or account.removed_at is not None:
        raise PayoutRefused("The account this payout was for has been removed; reject the request.")
    now = utcnow()
    moved = _move_and_debit(payout, by, now)
    if not moved:
        db.session.rollback()
        raise PayoutRefused("Someone else decided this payout a moment ago; see its status below.")
    alerts.decided(payout)
    audit.record("payout.approved", "payout", payout.id, estate_id=payout.estate_id,
                 before={"status": S.REQUESTED.value}, after={"status": S.APPROVED.value},
                 reason=f"Approved {naira(payout.amount_kobo)} to {account.label}")
    db.session.commit()
    jobs.enqueue_send(payout.id)
    return payout


def _move_and_debit(payout: Payout, by: User, now) -> bool:
    try:
        ledger.debit_payout(payout.estate_id, payout.amount_kobo, payout.gateway, payout.reference)
    except ledger.InsufficientFunds as exc:
        db.session.rollback()
        raise PayoutRefused(f"The estate wallet holds only {naira(exc.available_kobo)}; it cannot cover "
                            f"{naira(payout.amount_kobo)}.") from exc
    return move(payout, S.APPROVED, "Approved: the amount moved from the estate wallet to payout clearing",
                allowed_from=[S.REQUESTED], actor_id=by.id,
                approved_by_id=by.id, approved_role=by.acting_role, approved_at=now, next_check_at=now)


def reject(payout: Payout, by: User, reason: str) -> Payout:
    """A second admin turns the request down (with a reason; audited, committed)."""
    _decidable(payout, by, "rejected")
    if payout.requested_by_id == by.id:
        raise PayoutRefused("You asked for this payout; withdraw it instead.")
    return _close(payout, by, S.REJECTED, reason, "rejected")


def withdraw(payout: Payout, by: User, reason: str) -> Payout:
    """The admin who asked takes the request back (audited, committed)."""
    _decidable(payout, by, "withdrawn")
    if payout.requested_by_id != by.id:
        raise PayoutRefused("Only the admin who asked can withdraw a request; you may reject it.")
    return _close(payout, by, S.CANCELLED, reason, "withdrawn")


def _close(payout: Payout, by: User, to: PayoutStatus, reason: str, word: str) -> Payout:
    from webapp.services.payouts import alerts  # noqa: PLC0415
    reason = " ".join((reason or "").split())[:255]
    if not move(payout, to, reason or word.capitalize(), allowed_from=[S.REQUESTED],
                actor_id=by.id, decided_reason=reason or None, finished_at=utcnow()):
        db.session.rollback()
        raise PayoutRefused("Someone else decided this payout a moment ago; see its status below.")
    alerts.decided(payout)
    audit.record(f"payout.{word}", "payout", payout.id, estate_id=payout.estate_id,
                 before={"status": S.REQUESTED.value}, after={"status": to.value}, reason=reason or word)
    db.session.commit()
    return payout
