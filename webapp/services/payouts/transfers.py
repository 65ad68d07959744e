"""Sending an approved payout through its gateway and settling it on the gateway's word, by the
same rules as a bill purchase (DESIGN §4):

- ``submitted`` is committed before the transfer call, and no transaction is open during it;
- a refusal (permanent) fails the payout and returns the money once; "not accepted" (transient:
  connection refused, 429) puts it back to ``approved`` for a later send under the same reference;
- a timeout, dropped connection, 5xx or unclear answer after sending is ``unknown``: the gateway
  is asked (``check``) on the requery backoff, and the transfer is never sent under another
  reference;
- only the gateway's authoritative "no record of this reference" lets the same reference be sent
  again, at most ``PAYOUT_MAX_SENDS`` times in all; after that the money goes back;
- webhooks are hints (``webhooks``): they queue a ``check`` and move nothing themselves.

Money moves with each status in one transaction, keyed by the payout's reference
(``ledger.debit_payout`` at approval, then ``send_payout``, ``return_payout`` or
``reverse_payout``), and the status move is a compare-and-set, so two workers, the janitor and a
webhook racing on one payout post each movement once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Payout, PayoutAccount, PayoutStatus
from webapp.models.base import utcnow
from webapp.providers.base import ProviderCall, ProviderError
from webapp.providers.http import DISPLAY_NAMES
from webapp.providers.transfers import ResolvedAccount, TransferResult
from webapp.services import audit, ledger, policy
from webapp.services.payouts import alerts
from webapp.services.payouts.common import client, keep_calls, move
from webapp.services.payouts.errors import GatewayUnavailable, PayoutRefused

log = logging.getLogger(__name__)
S = PayoutStatus
SENT = (S.SUBMITTED, S.PENDING, S.UNKNOWN)


def _stale_after() -> timedelta:
    return timedelta(seconds=current_app.config["PAYOUT_STALE_AFTER_SECONDS"])


def _max_sends() -> int:
    return current_app.config["PAYOUT_MAX_SENDS"]


def _words(text: str | None) -> str | None:
    return " ".join(str(text).split())[:255] or None if text else None


def send(payout_id: int) -> str:
    """Send an approved payout (a no-op for any other status). Returns the status it ends in."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        return "missing"
    if payout.status != S.APPROVED.value:
        db.session.rollback()
        return payout.status
    account = db.session.get(PayoutAccount, payout.payout_account_id)
    calls: list[ProviderCall] = []
    try:
        transfers = client(payout.gateway, calls)
    except GatewayUnavailable:
        payout.next_check_at = utcnow() + timedelta(hours=1)
        db.session.commit()
        return payout.status
    now = utcnow()
    if not move(payout, S.SUBMITTED, f"Sent to {DISPLAY_NAMES[payout.gateway]} (attempt {payout.send_attempts + 1})",
                allowed_from=[S.APPROVED], send_attempts=payout.send_attempts + 1, submitted_at=now,
                next_check_at=now + _stale_after()):
        db.session.rollback()
        return payout.status
    destination = ResolvedAccount(account_number=account.account_number, bank_code=account.bank_code,
                                  account_name=account.account_name)
    recipient, reference, amount, narration = (account.recipient_code, payout.reference, payout.amount_kobo,
                                               payout.narration)
    db.session.commit()  # evidence first, and no transaction open during the call
    try:
        result = transfers.initiate(reference, amount, destination, recipient, narration)
    except ProviderError as exc:
        keep_calls(calls)
        return _send_failed(payout, exc)
    keep_calls(calls)
    return apply(payout, result, "the transfer call's answer")


def _send_failed(payout: Payout, exc: ProviderError) -> str:
    now = utcnow()
    name = DISPLAY_NAMES[payout.gateway]
    # ``exc.message`` speaks to a resident; what the gateway itself said is in ``exc.detail``.
    said = _words(exc.detail) or _words(exc.message)
    if exc.outcome_unknown:
        move(payout, S.UNKNOWN, f"No clear answer from {name} to the transfer call ({exc.error_type}); asking it",
             allowed_from=[S.SUBMITTED], gateway_message=f"No answer yet ({exc.error_type})",
             next_check_at=now + policy.requery_delay(0))
    elif exc.is_transient and payout.send_attempts < _max_sends():
        move(payout, S.APPROVED, f"{name} did not take the transfer ({exc.error_type}); sending again later",
             allowed_from=[S.SUBMITTED], gateway_message=said,
             next_check_at=now + policy.purchase_retry_delay(payout.send_attempts))
    else:
        why = said or "refused"
        if exc.is_transient:
            why = f"{name} did not take it after {payout.send_attempts} tries: {why}"
        _fail(payout, why, allowed_from=[S.SUBMITTED])
    db.session.commit()
    return payout.status


def _fail(payout: Payout, why: str, *, allowed_from, **values) -> bool:
    if not move(payout, S.FAILED, f"Failed ({why}); the money is back in the estate wallet",
                allowed_from=allowed_from, gateway_message=why[:255], finished_at=utcnow(), next_check_at=None,
                **values):
        return False
    ledger.return_payout(payout.reference)
    alerts.outcome(payout)
    return True


def apply(payout: Payout, result: TransferResult, source: str) -> str:
    """Move the payout to what the gateway says (``result``) and commit. Returns the new status."""
    now = utcnow()
    name = DISPLAY_NAMES[payout.gateway]
    # What the gateway said last, replacing anything older (a stale "no answer" on a paid payout).
    message = _words(result.message)
    extra = {"provider_id": result.provider_id or payout.provider_id, "checks": payout.checks + 1,
             "gateway_message": message}
    status = result.status
    if status == "pending":
        if not move(payout, S.PENDING, f"{name} is processing it ({source})", allowed_from=SENT,
                    next_check_at=now + policy.requery_delay(payout.checks), **extra):
            _ask_again_later(payout, now, extra)
    elif status == "success":
        if move(payout, S.SUCCEEDED, f"{name} says it is paid ({source})", allowed_from=SENT, finished_at=now,
                next_check_at=None, fee_kobo=result.fee_kobo, **extra):
            ledger.send_payout(payout.reference, payout.gateway)
            alerts.outcome(payout)
    elif status == "failed":
        if payout.status == S.SUCCEEDED.value:
            log.error("payout %s: the gateway now says failed after success; left for an admin", payout.reference)
            alerts.unresolved(payout, "it was paid and the gateway now says it failed")
        else:
            _fail(payout, message or f"{name} says it failed", allowed_from=SENT, provider_id=extra["provider_id"],
                  checks=extra["checks"])
    elif status == "reversed":
        was_sent = payout.status == S.SUCCEEDED.value
        if move(payout, S.REVERSED, f"{name} says the bank sent it back ({source})", allowed_from=(*SENT, S.SUCCEEDED),
                finished_at=now, next_check_at=None, **extra):
            if not was_sent:
                ledger.send_payout(payout.reference, payout.gateway)
            ledger.reverse_payout(payout.reference, payout.gateway)
            alerts.outcome(payout)
    elif status == "not_found":
        _no_record(payout, now, source)
    if payout.status in (S.SUCCEEDED.value, S.FAILED.value, S.REVERSED.value):
        alerts.settled(payout)
    db.session.commit()
    return payout.status


def _ask_again_later(payout: Payout, now: datetime, extra: dict) -> None:
    if payout.status == S.PENDING.value:
        payout.next_check_at = now + policy.requery_delay(payout.checks)
        payout.checks = extra["checks"]
        payout.provider_id = extra["provider_id"]


def _no_record(payout: Payout, now: datetime, source: str) -> None:
    """The gateway's authoritative "no record of this reference": the transfer never reached it."""
    if payout.status not in (S.SUBMITTED.value, S.UNKNOWN.value):
        # It said pending or paid before: a lookup that now finds nothing is not to be acted on.
        log.error("payout %s (%s): the gateway has no record of it now", payout.reference, payout.status)
        alerts.unresolved(payout, "the gateway first knew it and now says it has no record")
        return
    if payout.status == S.SUBMITTED.value and payout.next_check_at and payout.next_check_at > now:
        # Its worker is still inside the transfer call (the lease has not run out): the request may
        # simply not have arrived yet, so "no record" proves nothing until the call has ended.
        return
    if payout.send_attempts >= _max_sends():
        _fail(payout, f"{DISPLAY_NAMES[payout.gateway]} has no record of it after {payout.send_attempts} sends",
              allowed_from=[S.SUBMITTED, S.UNKNOWN])
        return
    move(payout, S.APPROVED, f"{DISPLAY_NAMES[payout.gateway]} has no record of it ({source}); sending again under "
         "the same reference",
         allowed_from=[S.SUBMITTED, S.UNKNOWN], next_check_at=now)


def check(payout_id: int, source: str = "status check") -> str:
    """Ask the gateway what became of a sent payout (or whether a paid one was reversed) and apply
    the answer. No answer: asked again soon, without pushing the next real check along."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        return "missing"
    if payout.status not in {*SENT, S.SUCCEEDED}:
        db.session.rollback()
        return payout.status
    calls: list[ProviderCall] = []
    try:
        transfers = client(payout.gateway, calls)
    except GatewayUnavailable:
        db.session.rollback()
        return payout.status
    reference, provider_id = payout.reference, payout.provider_id
    db.session.commit()
    try:
        result = transfers.verify(reference, provider_id)
    except ProviderError as exc:
        keep_calls(calls)
        if payout.status != S.SUCCEEDED.value:
            payout.next_check_at = utcnow() + policy.no_answer_retry_delay(1)
            payout.gateway_message = _words(exc.message) or payout.gateway_message
        db.session.commit()
        return "no answer"
    keep_calls(calls)
    if result.reference != reference:
        log.error("payout %s: the gateway answered about %s", reference, result.reference)
        db.session.commit()
        return "no answer"
    if result.amount_kobo is not None and result.amount_kobo != payout.amount_kobo and result.status != "not_found":
        log.error("payout %s: the gateway reports %s kobo, we sent %s", reference, result.amount_kobo,
                  payout.amount_kobo)
    return apply(payout, result, source)  # "approved": the caller queues the send again


def find(gateway: str, reference: str) -> Payout | None:
    return db.session.scalar(select(Payout).where(Payout.reference == reference, Payout.gateway == gateway))


HAND_OUTCOMES = {"paid": S.SUCCEEDED, "not_sent": S.FAILED}


def settle_by_hand(payout: Payout, by, outcome: str, note: str) -> Payout:
    """An admin settles a transfer the gateway has not answered for a day, from what its dashboard
    shows: "paid" (the money reached the bank) or "not_sent" (the gateway has no such transfer; the
    money returns to the estate wallet). Audited, committed. Refused (``PayoutRefused``) before the
    alert age, for the admin who asked for the payout, or without a note saying what was checked."""
    to = HAND_OUTCOMES.get(outcome)
    if to is None:
        raise PayoutRefused("Choose what the gateway's dashboard shows: paid, or no such transfer.", "outcome")
    note = " ".join((note or "").split())[:200]
    if not note:
        raise PayoutRefused("Say what you checked (for example the dashboard's transfer reference).", "note")
    if payout.status not in {s.value for s in SENT}:
        raise PayoutRefused("Only a transfer still unsettled can be settled by hand.")
    if payout.requested_by_id == by.id:
        raise PayoutRefused("You asked for this payout, so another admin must settle it.")
    after = timedelta(seconds=current_app.config["PAYOUT_UNRESOLVED_ALERT_AFTER_SECONDS"])
    if payout.submitted_at is None or utcnow() - payout.submitted_at < after:
        raise PayoutRefused("Give the gateway a day to answer before settling a transfer by hand.")
    name = DISPLAY_NAMES[payout.gateway]
    before = payout.status
    if to is S.SUCCEEDED:
        moved = move(payout, S.SUCCEEDED, f"Settled by hand: {name}'s dashboard shows it paid ({note})",
                     allowed_from=SENT, actor_id=by.id, finished_at=utcnow(), next_check_at=None,
                     gateway_message=f"Settled by hand: {note}"[:255])
        if moved:
            ledger.send_payout(payout.reference, payout.gateway)
    else:
        moved = _fail(payout, f"settled by hand: {name} has no such transfer ({note})", allowed_from=SENT)
    if not moved:
        db.session.rollback()
        raise PayoutRefused("The gateway answered a moment ago; see the payout's status.")
    if to is S.SUCCEEDED:
        alerts.outcome(payout)
    alerts.settled(payout)
    audit.record("payout.settled_by_hand", "payout", payout.id, estate_id=payout.estate_id,
                 before={"status": before}, after={"status": payout.status}, reason=note)
    db.session.commit()
    return payout
