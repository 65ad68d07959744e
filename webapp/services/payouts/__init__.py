"""Payouts: estate money sent to the estate's own bank account, asked for by one admin and approved
by another, through Paystack Transfers or Flutterwave Transfers.

- ``accounts``: the estate's payout accounts, resolved through the gateway before they are kept;
- ``approvals``: request, approve (the money moves to payout clearing), reject, withdraw;
- ``transfers``: sending and settling on the gateway's word, by the purchase rules of DESIGN §4;
- ``webhooks``: transfer events as hints; ``janitor``: lost jobs, stale sends, old requests;
- ``invariants``: registered with ``flask ledger check``.
"""
from webapp.services.payouts import invariants  # noqa: F401  (registers the payout invariants)
from webapp.services.payouts.accounts import add_account, banks, live_account, live_accounts, remove_account
from webapp.services.payouts.approvals import approve, available, reject, request_payout, waiting_total, withdraw
from webapp.services.payouts.common import gateways
from webapp.services.payouts.errors import GatewayUnavailable, PayoutRefused

__all__ = ["GatewayUnavailable", "PayoutRefused", "add_account", "approve", "available", "banks", "gateways",
           "live_account", "live_accounts", "reject", "remove_account", "request_payout", "waiting_total",
           "withdraw"]
