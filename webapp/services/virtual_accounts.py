"""Residents' dedicated bank accounts (Paystack Dedicated Virtual Accounts) and transfers into them.

Why it is shaped this way:

- ``assign`` writes the resident's row first (inactive, unique per resident and gateway) and marks
  it ``assigning_since`` in a committed conditional UPDATE, so two clicks, tabs or machines never
  ask Paystack twice at once: the second is told the account is on its way. The Paystack calls
  (create the customer, list its accounts, create one) happen with no transaction open; then the
  answer is recorded. A failure keeps what Paystack already gave (its customer) and clears the
  mark, so "try again" goes on from there. Before creating an account it lists the customer's
  active ones, so a create whose answer was lost is found, never made twice.
- A transfer into the account comes as Paystack's ``charge.success`` with channel
  ``dedicated_nuban``; ``transfer_intent`` records it as a ``FundingIntent`` named by Paystack's
  reference, and ``funding`` verifies it (``GET /transaction/verify/:reference``) and credits it
  exactly as a card top-up: once, under ``funding:<reference>:credit``, flagged when the verified
  record disagrees with the webhook.

Sources: paystack.com/docs/payments/dedicated-virtual-accounts/ (create a customer with email,
first_name, last_name and phone, then a DVA; transfers arrive as ``charge.success``), PaystackOSS/
openapi ``src/assets/openapi/paths/dedicated_account.yaml`` and ``paths/customer.yaml``, and
PaystackOSS/doc-code-snippets ``src/api/dedicated-virtual-account/assign/index.sh`` (test mode's
``preferred_bank`` is "test-bank").
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import User
from webapp.models.base import utcnow
from webapp.models.funding import FundingIntent, FundingStatus, Gateway, VirtualAccount
from webapp.providers import registry
from webapp.providers.amounts import plain_kobo
from webapp.providers.base import ProviderConfigError, ProviderError
from webapp.providers.paystack import REFERENCE as PAYSTACK_REFERENCE
from webapp.services import audit
from webapp.services.identity.credentials import AccountError, normalise_phone
from webapp.services.payments.calls import persist as persist_calls

log = logging.getLogger(__name__)

GATEWAY = Gateway.PAYSTACK.value
CURRENCY = "NGN"
# How Paystack marks a transaction paid by transfer into a dedicated virtual account
# (PaystackOSS/doc-code-snippets src/doc/payments/dedicated-virtual-account/event-snippet/index.json).
TRANSFER_CHANNEL = "dedicated_nuban"

UNAVAILABLE = ("We could not get your account number from Paystack just now. Nothing was set up and no "
               "money moved; please try again in a minute.")
IN_PROGRESS = "We are already getting your account number from Paystack. Refresh this page in a moment."


class AssignmentError(RuntimeError):
    """No account could be assigned just now; the message is fit for the page. Nothing to undo."""


class PhoneNeeded(ValueError):
    """Paystack needs the resident's phone number for an account; ``message`` says what to type."""


class TransferRejected(ValueError):
    """An authenticated transfer event whose body we cannot use (bad amount or reference)."""


@dataclass(frozen=True)
class _Request:
    """Plain values for the gateway calls, read before the transaction ends."""

    account_id: int
    email: str
    first_name: str
    last_name: str
    phone: str
    customer_code: str | None
    customer_id: str | None


def find_account(user_id: int, gateway: str = GATEWAY) -> VirtualAccount | None:
    """The resident's account row at ``gateway`` (active or not), or None. Never creates one."""
    return db.session.scalar(select(VirtualAccount).where(VirtualAccount.user_id == user_id,
                                                          VirtualAccount.gateway == gateway))


def active_account(user_id: int, gateway: str = GATEWAY) -> VirtualAccount | None:
    account = find_account(user_id, gateway)
    return account if account is not None and account.active else None


def _lease() -> timedelta:
    """How long a started assignment keeps others waiting: its three calls' worst case, and a bit."""
    config = current_app.config
    per_call = float(config["PROVIDER_CONNECT_TIMEOUT"]) + float(config["PROVIDER_READ_TIMEOUT"])
    return timedelta(seconds=3 * per_call + 5)


def _names(full_name: str) -> tuple[str, str]:
    parts = (full_name or "").split()
    if not parts:
        return "Resident", "Resident"
    return parts[0], " ".join(parts[1:]) or parts[0]


def assign(user: User, phone: str | None = None) -> VirtualAccount:
    """The resident's active account, asking Paystack for one if they have none yet.

    ``phone`` is used (and kept on the profile) when the resident has none on file. Raises
    ``PhoneNeeded`` (nothing done), ``AssignmentError`` (try again later; nothing to undo).
    """
    existing = active_account(user.id)
    if existing is not None:
        return existing
    if not user.phone:
        try:
            user.phone = normalise_phone(phone or "")
        except AccountError as exc:
            raise PhoneNeeded(str(exc)) from exc
    request = _claim(user)
    if request is None:  # assigned by a concurrent request a moment ago
        return active_account(user.id)
    return _ask_gateway(request)


def _claim(user: User) -> _Request | None:
    """Make sure the resident's row exists and mark it as being assigned; commit.

    Returns None when it turns out to be active already; raises ``AssignmentError`` when another
    assignment started less than a lease ago.
    """
    if find_account(user.id) is None:
        try:
            with db.session.begin_nested():
                db.session.add(VirtualAccount(user_id=user.id, gateway=GATEWAY, active=False))
        except IntegrityError:  # another request made it a moment ago
            pass
    account = find_account(user.id)
    if account.active:
        db.session.commit()
        return None
    now = utcnow()
    claimed = db.session.execute(
        update(VirtualAccount)
        .where(VirtualAccount.id == account.id, VirtualAccount.active.is_(False),
               or_(VirtualAccount.assigning_since.is_(None), VirtualAccount.assigning_since < now - _lease()))
        .values(assigning_since=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    first_name, last_name = _names(user.full_name)
    request = _Request(account_id=account.id, email=user.email, first_name=first_name, last_name=last_name,
                       phone=user.phone or "", customer_code=account.customer_code,
                       customer_id=account.gateway_customer_id)
    db.session.commit()  # the mark (and a phone typed on the form) before Paystack hears of it
    if not claimed:
        db.session.refresh(account)
        if account.active:
            return None
        raise AssignmentError(IN_PROGRESS)
    return request


def _ask_gateway(request: _Request) -> VirtualAccount:
    """Paystack's calls, with no transaction open, then the answer recorded in one transaction."""
    calls: list = []
    customer_code, customer_id, found, failure = request.customer_code, request.customer_id, None, None
    try:
        client = registry.funding_client(GATEWAY, current_app.config, call_logger=calls.append)
        if not customer_code:
            customer = client.create_customer(request.email, request.first_name, request.last_name, request.phone)
            customer_code, customer_id = customer.code, customer.id
        listed = client.dedicated_accounts(customer_id) if customer_id else []
        found = listed[0] if listed else client.create_dedicated_account(
            customer_code, current_app.config["PAYSTACK_DVA_BANK"])
    except (ProviderError, ProviderConfigError) as exc:
        failure = getattr(exc, "error_type", "not configured")
        log.warning("virtual account %s: paystack assignment failed: %s", request.account_id, failure)

    persist_calls(None, calls)
    account = db.session.get(VirtualAccount, request.account_id, populate_existing=True)
    account.customer_code, account.gateway_customer_id = customer_code, customer_id
    account.assigning_since = None
    if found is not None:
        account.account_number = found.account_number[:20]
        account.account_name = found.account_name[:120]
        account.bank_name = found.bank_name[:120]
        account.active = True
        user = db.session.get(User, account.user_id)
        audit.record("wallet.virtual_account", "virtual_account", account.id,
                     estate_id=user.estate_id if user else None,
                     after={"gateway": account.gateway, "bank_name": account.bank_name,
                            "account_number": account.account_number}, actor=f"user:{account.user_id}")
        log.info("virtual account %s: assigned %s at %s", account.id, account.account_number, account.bank_name)
    db.session.commit()
    if found is None:
        raise AssignmentError(UNAVAILABLE)
    return account


def transfer_intent(reference: str, data: dict) -> FundingIntent | None:
    """The intent for a bank transfer into a resident's virtual account, created from the webhook.

    Paystack made the reference; the body's amount is only what it claims (``funding`` credits
    nothing unless the verified transaction says the same). None when the event is not a transfer
    into one of our accounts. Paystack's charge for it is ours to bear, as for a card: the wallet
    gets the transaction's ``amount``, what the resident sent (its ``fees`` are not deducted).
    Raises ``TransferRejected`` for an amount or reference we cannot use.
    """
    authorization = data.get("authorization") if isinstance(data.get("authorization"), dict) else {}
    if (data.get("channel") or authorization.get("channel")) != TRANSFER_CHANNEL:
        return None
    customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
    code = customer.get("customer_code")
    account = db.session.scalar(
        select(VirtualAccount).where(VirtualAccount.gateway == GATEWAY, VirtualAccount.customer_code == code)
    ) if isinstance(code, str) and code else None
    if account is None:
        log.warning("paystack webhook: transfer %r for unknown customer %r ignored", reference, code)
        return None
    amount = plain_kobo(data.get("amount"))
    if amount is None or amount <= 0:
        raise TransferRejected("transfer amount is not a positive number of kobo")
    if len(reference) > 64 or not PAYSTACK_REFERENCE.match(reference):
        raise TransferRejected("transfer reference is not a Paystack reference")
    ttl = timedelta(minutes=current_app.config["FUNDING_INTENT_TTL_MINUTES"])
    try:
        with db.session.begin_nested():
            db.session.add(FundingIntent(
                reference=reference, user_id=account.user_id, gateway=GATEWAY, amount_kobo=amount,
                currency=CURRENCY, status=FundingStatus.PENDING.value, expires_at=utcnow() + ttl,
                virtual_account_id=account.id,
            ))
    except IntegrityError:  # the same transfer's webhook, delivered twice at once
        pass
    db.session.commit()  # the transfer is on record before Paystack is asked about it
    log.info("paystack transfer %s: %s kobo claimed into virtual account %s", reference, amount, account.id)
    return db.session.scalar(select(FundingIntent).where(FundingIntent.reference == reference))


def sandbox_transfer_url(account: VirtualAccount | None, app_url: str) -> str | None:
    """The provider sandbox's "send a transfer" page for this account when the app runs against
    the sandbox (``make run``, ``SANDBOX_URL``); None otherwise and always in production."""
    config = current_app.config
    sandbox = (config.get("SANDBOX_URL") or "").rstrip("/")
    if account is None or not account.active or not sandbox or config.get("APP_ENV") == "production":
        return None
    return f"{sandbox}/transfer/paystack?{urlencode({'account_number': account.account_number, 'notify': app_url})}"
