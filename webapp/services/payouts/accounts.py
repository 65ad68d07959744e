"""The bank accounts an estate may pay out to: resolved through the gateway before they are kept.

The name on an account is the one the gateway's account-resolve call returns (the bank's record),
never what an admin typed, so the second admin approving a payout sees whose account it is. The
number is stored encrypted with a keyed hash beside it, like residents' meter numbers. Paystack
sends to a transfer recipient, created here once per account; Flutterwave takes the account on
each transfer.
"""
from __future__ import annotations

import re
import threading
import time

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra import crypto
from webapp.models import Payout, PayoutAccount, PayoutStatus, User
from webapp.models.base import utcnow
from webapp.providers.base import ErrorClass, PaymentErrorType, ProviderCall, ProviderError
from webapp.providers.http import DISPLAY_NAMES
from webapp.providers.transfers import Bank
from webapp.services import audit
from webapp.services.payouts.common import client, gateways, keep_calls
from webapp.services.payouts.errors import GatewayUnavailable, PayoutRefused

NUBAN = re.compile(r"^\d{10}$")  # Nigerian bank account numbers are 10 digits (CBN's NUBAN standard)
BANKS_TTL_SECONDS = 6 * 3600  # the bank list changes a few times a year
_banks: dict[str, tuple[float, list[Bank]]] = {}
_banks_lock = threading.Lock()


def banks(gateway: str) -> list[Bank]:
    """The banks the gateway can send to, asked at most every few hours per process."""
    if gateway not in gateways():
        raise PayoutRefused("Choose a gateway this server can send payouts through.", "gateway")
    with _banks_lock:
        cached = _banks.get(gateway)
    if cached is not None and time.monotonic() - cached[0] < BANKS_TTL_SECONDS:
        return cached[1]
    # No transaction stays open across the gateway's call: on SQLite a form's POST holds the write
    # lock from its first statement. Nothing is pending here (the callers have written nothing yet).
    db.session.commit()
    log: list[ProviderCall] = []
    try:
        found = sorted(client(gateway, log).list_banks(), key=lambda bank: bank.name.lower())
    except ProviderError as exc:
        current_app.logger.warning("%s bank list unavailable: %s", gateway, exc)
        raise GatewayUnavailable(f"{DISPLAY_NAMES[gateway]} did not give us its list of banks just now. "
                                 "Please try again in a minute.") from exc
    with _banks_lock:
        _banks[gateway] = (time.monotonic(), found)
    return found


def live_accounts(estate_id: int) -> list[PayoutAccount]:
    return list(db.session.scalars(
        select(PayoutAccount).where(PayoutAccount.estate_id == estate_id, PayoutAccount.removed_at.is_(None))
        .order_by(PayoutAccount.created_at, PayoutAccount.id)))


def live_account(estate_id: int, account_id: int | None) -> PayoutAccount | None:
    if account_id is None:
        return None
    return db.session.scalar(select(PayoutAccount).where(
        PayoutAccount.id == account_id, PayoutAccount.estate_id == estate_id, PayoutAccount.removed_at.is_(None)))


def add_account(estate_id: int, gateway: str, bank_code: str, account_number: str, by: User) -> PayoutAccount:
    """Resolve the account through the gateway and keep it for the estate's payouts (audited, committed).

    Refused (``PayoutRefused``, nothing written) for a number that is not 10 digits, a bank the
    gateway does not list, an account the bank does not know, or one already added;
    ``GatewayUnavailable`` when the gateway cannot be asked just now.
    """
    number = crypto.normalise_number(account_number or "")
    if not NUBAN.match(number):
        raise PayoutRefused("Enter the 10-digit account number (NUBAN).", "account_number")
    bank = next((b for b in banks(gateway) if b.code == (bank_code or "")), None)
    if bank is None:
        raise PayoutRefused("Choose the bank from the list.", "bank_code")
    number_hash = crypto.lookup_hash(number)
    if _already_added(estate_id, gateway, bank.code, number_hash):
        raise PayoutRefused("This account is already one of the estate's payout accounts.", "account_number")
    db.session.commit()  # no transaction stays open across the gateway's calls
    log: list[ProviderCall] = []
    transfers = client(gateway, log)
    try:
        resolved = transfers.resolve_account(number, bank.code)
        recipient = transfers.create_recipient(resolved)
    except ProviderError as exc:
        keep_calls(log)
        db.session.commit()
        if exc.error_class is ErrorClass.PERMANENT and exc.error_type is not PaymentErrorType.AUTHENTICATION_ERROR:
            raise PayoutRefused(f"{bank.name} does not know account {number}. Check the number and the bank.",
                                "account_number") from exc
        current_app.logger.warning("%s account resolve failed: %s", gateway, exc)
        raise GatewayUnavailable(f"We could not check the account with {DISPLAY_NAMES[gateway]} just now. "
                                 "Please try again in a minute.") from exc
    account = PayoutAccount(estate_id=estate_id, gateway=gateway, bank_code=bank.code, bank_name=bank.name[:120],
                            account_number=number, number_hash=number_hash, last4=number[-4:],
                            account_name=(resolved.account_name or "").strip()[:160] or "(no name given)",
                            recipient_code=recipient, added_by_id=by.id)
    db.session.add(account)
    keep_calls(log)
    try:
        db.session.flush()
    except IntegrityError as exc:  # added by another admin a moment ago
        db.session.rollback()
        raise PayoutRefused("This account is already one of the estate's payout accounts.", "account_number") from exc
    audit.record("payout.account_added", "payout_account", account.id, estate_id=estate_id,
                 after={"gateway": gateway, "bank": bank.name, "account": account.masked_number,
                        "account_name": account.account_name},
                 reason=f"Added {account.label} for payouts via {DISPLAY_NAMES[gateway]}")
    db.session.commit()
    return account


def _already_added(estate_id: int, gateway: str, bank_code: str, number_hash: str) -> bool:
    return bool(db.session.scalar(select(exists().where(
        PayoutAccount.estate_id == estate_id, PayoutAccount.gateway == gateway, PayoutAccount.bank_code == bank_code,
        PayoutAccount.number_hash == number_hash, PayoutAccount.removed_at.is_(None)))))


def remove_account(estate_id: int, account_id: int, by: User) -> PayoutAccount:
    """Stop paying out to the account (kept for the history of its payouts; audited, committed).
    Refused while a payout to it waits for approval: reject or withdraw that first."""
    account = live_account(estate_id, account_id)
    if account is None:
        raise PayoutRefused("That account is not one of the estate's payout accounts.")
    waiting = db.session.scalar(select(exists().where(Payout.payout_account_id == account.id,
                                                      Payout.status == PayoutStatus.REQUESTED.value)))
    if waiting:
        raise PayoutRefused("A payout to this account is waiting for approval; reject or withdraw it first.")
    account.removed_at = utcnow()
    account.removed_by_id = by.id
    audit.record("payout.account_removed", "payout_account", account.id, estate_id=estate_id,
                 before={"account": account.masked_number, "account_name": account.account_name},
                 reason=f"Removed {account.label} from the payout accounts")
    db.session.commit()
    return account
