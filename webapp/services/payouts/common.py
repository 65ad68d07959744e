"""What every part of the payout service shares: the gateway clients, the status moves, the log."""
from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import update

from webapp.extensions import db
from webapp.models import Payout, PayoutEvent, PayoutStatus
from webapp.models.payout import TRANSITIONS
from webapp.providers import registry
from webapp.providers.base import ProviderCall, ProviderConfigError
from webapp.providers.transfers import TransferClient
from webapp.services.payments import calls as provider_calls
from webapp.services.payouts.errors import GatewayUnavailable

# The secret each gateway's transfer client needs; a gateway without it is not offered.
GATEWAY_SECRETS = {"paystack": "PAYSTACK_SECRET_KEY", "flutterwave": "FLUTTERWAVE_SECRET_KEY"}


def gateways() -> list[str]:
    """The gateways this server can send payouts through (their keys are set)."""
    return [gateway for gateway, setting in GATEWAY_SECRETS.items() if current_app.config.get(setting)]


def client(gateway: str, log: list[ProviderCall]) -> TransferClient:
    """The gateway's transfers client; every HTTP call it makes is appended to ``log``."""
    try:
        return registry.transfer_client(gateway, current_app.config, call_logger=log.append)
    except ProviderConfigError as exc:
        current_app.logger.error("payout gateway %s is not configured: %s", gateway, exc)
        raise GatewayUnavailable("Payouts through this gateway are not set up on this server.") from exc


def keep_calls(log: list[ProviderCall]) -> None:
    """Store the (already redacted) calls in the provider call log, in the caller's transaction."""
    provider_calls.persist(None, log)


def move(payout: Payout, to: PayoutStatus, reason: str, *, allowed_from: Iterable[PayoutStatus] | None = None,
         actor_id: int | None = None, **values) -> bool:
    """Compare-and-set the payout's status: from the status it is in now (read afresh), when that
    is one of ``allowed_from`` and ``TRANSITIONS`` allows the move. Another worker or admin may
    have moved it meanwhile, so the update names the status it read and moves nothing otherwise.
    Records the event; True when this transaction made the move. The caller commits."""
    db.session.refresh(payout)
    current = PayoutStatus(payout.status)
    if allowed_from is not None and current not in set(allowed_from):
        return False
    if to not in TRANSITIONS[current]:
        return False
    result = db.session.execute(
        update(Payout).where(Payout.id == payout.id, Payout.status == current.value)
        .values(status=to.value, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    db.session.add(PayoutEvent(payout_id=payout.id, from_status=current.value, to_status=to.value,
                               reason=reason[:255], actor_id=actor_id))
    db.session.flush()
    db.session.refresh(payout)
    return True
