"""Transfer webhooks (Paystack ``transfer.success|failed|reversed`` at the Paystack webhook URL,
Flutterwave ``transfer.completed`` at ``/webhooks/flutterwave/transfers``): hints only.

The signature is checked by the gateway's client first; then the hint names a payout and a check
of it is queued, and only the gateway's answer to that check moves it. A forged event is refused
before any lookup; a genuine one for a payout already final changes nothing; a replay queues at
most one check at a time.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from webapp.extensions import db
from webapp.models import PayoutStatus
from webapp.services.payouts import jobs, transfers
from webapp.services.payouts.common import client
from webapp.services.payouts.errors import GatewayUnavailable

S = PayoutStatus


class HintRejected(ValueError):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class CheckUnavailable(RuntimeError):
    """The check could not be queued (Redis away): the gateway should deliver the event again."""


def is_transfer_event(payload: Mapping) -> bool:
    event = payload.get("event") if isinstance(payload, Mapping) else None
    return isinstance(event, str) and event.startswith("transfer.")


def handle(gateway: str, raw_body: bytes, headers: Mapping, *, verified: bool = False) -> str:
    """Authenticate (unless the caller has) and act on a transfer webhook: "checking", "final" or
    "ignored". Raises ``HintRejected`` (401 bad signature, 400 unreadable), ``GatewayUnavailable``
    (not configured here) and ``CheckUnavailable``; none of them changes anything."""
    transfer_client = client(gateway, [])
    if not verified and not transfer_client.verify_webhook(raw_body, headers):
        raise HintRejected("invalid signature", 401)
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HintRejected("body is not JSON", 400) from exc
    if not isinstance(payload, dict):
        raise HintRejected("body is not a JSON object", 400)
    hint = transfer_client.transfer_hint(payload)
    if hint is None:
        return "ignored"
    payout = transfers.find(gateway, hint.reference)
    if payout is None:
        return "ignored"
    if payout.status not in {*transfers.SENT, S.SUCCEEDED}:
        return "final"
    if hint.provider_id and not payout.provider_id:
        # Flutterwave's lookup takes only its own transfer id, which a lost initiate answer never
        # gave us: the event's id is kept as the key to ask by. The check still requires the
        # gateway's answer by that id to name our reference before anything moves.
        payout.provider_id = str(hint.provider_id)[:80]
        db.session.commit()
    if not jobs.enqueue_check(payout.id):
        raise CheckUnavailable("could not queue the check")
    return "checking"


__all__ = ["CheckUnavailable", "GatewayUnavailable", "HintRejected", "handle", "is_transfer_event"]
