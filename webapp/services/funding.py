"""Wallet funding through a gateway's hosted checkout (Paystack or Flutterwave).

Why it is shaped this way:

- ``start_funding`` commits the intent *before* asking the gateway for a checkout page, so a crash
  or timeout between the two still leaves a row that the expiry job can settle.
- ``confirm_funding`` is the only path that credits a wallet. The resident's return redirect, the
  gateway's webhook and the expiry job all call it, and none of them is trusted: it asks the gateway
  API what happened. That HTTP call happens with no transaction open; then it locks the intent
  row, re-reads its status and credits (``ledger.credit_funding``) in the same transaction as the
  status change. Two callers racing each other therefore credit once: the second finds ``credited``, and
  the ledger's idempotency key (``funding:<reference>:credit``) backs that up.
- A success whose amount, currency or reference differs from the intent is ``flagged`` for a person
  to look at and credits nothing.
- A verified success credits even an intent that was ``failed``, ``abandoned`` or ``expired`` (a
  second card attempt on the same checkout, a late webhook): money the gateway took must reach the
  wallet. Only ``credited`` and ``flagged`` are final.
- A bank transfer into a resident's virtual account has no intent until Paystack's webhook names it:
  ``virtual_accounts.transfer_intent`` records one under Paystack's reference with the amount the
  webhook claims, and from there it is confirmed exactly like a checkout (a verified amount,
  customer or channel that disagrees is ``flagged``).
"""
from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Account, User
from webapp.models.base import utcnow
from webapp.models.funding import FINAL, FundingIntent, FundingStatus, Gateway, SavedCard, VirtualAccount
from webapp.money import naira
from webapp.providers import registry
from webapp.providers.base import ProviderConfigError, ProviderError
from webapp.services import audit, ledger, notify, virtual_accounts
from webapp.services.payments import bill_events
from webapp.services.payments.calls import persist as persist_calls
from webapp.services.payouts import webhooks as payout_webhooks

log = logging.getLogger(__name__)

GATEWAYS = tuple(g.value for g in Gateway)
CURRENCY = "NGN"
REFERENCE_PREFIX = "fund-"
# The webhook events that mean "a checkout finished"; the body is only a hint to go and verify.
FUNDING_EVENTS = {Gateway.PAYSTACK.value: {"charge.success"}, Gateway.FLUTTERWAVE.value: {"charge.completed"}}
# Where each gateway puts our reference in a webhook body.
WEBHOOK_REFERENCE_FIELD = {Gateway.PAYSTACK.value: "reference", Gateway.FLUTTERWAVE.value: "tx_ref"}

DECLINED = "Your payment was declined, so no money was added. You can try again with another card or bank."
REVERSED = "The gateway reversed this payment, so no money was added."
ABANDONED = "The checkout was closed before payment, so no money was added."
EXPIRED = "The checkout was not completed in time, so no money was added."
CHECKOUT_UNAVAILABLE = "We could not open the payment page just now. No money was taken; please try again."


class FundingError(ValueError):
    """A funding request we refuse before anything is created, with a message fit for the form."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class UnknownFunding(LookupError):
    """No funding intent has this reference."""


class VerificationUnavailable(RuntimeError):
    """The gateway could not be asked about a transaction just now; nothing changed. Ask again later."""


class NotConfigured(RuntimeError):
    """The gateway's webhook secret (or a setting its client needs) is not set on this server, so
    no event can be authenticated or confirmed; none is accepted, and the gateway redelivers."""


# The secret each gateway's webhooks are authenticated with.
WEBHOOK_SECRET_SETTINGS = {Gateway.PAYSTACK.value: "PAYSTACK_SECRET_KEY",
                           Gateway.FLUTTERWAVE.value: "FLUTTERWAVE_SECRET_HASH"}


class WebhookRejected(ValueError):
    """A webhook we refuse: ``status`` is 401 for a bad signature, 400 for a body we cannot read."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WebhookResult:
    outcome: str  # the intent's status after confirmation, or "ignored"
    reference: str | None = None


def new_reference() -> str:
    """Our reference: letters, digits and '-' only, valid for Paystack and Flutterwave alike."""
    return f"{REFERENCE_PREFIX}{secrets.token_hex(12)}"


def funding_client(gateway: str, calls: list | None = None):
    """The gateway's client; with ``calls``, every HTTP call it makes is appended there for the call log."""
    return registry.funding_client(gateway, current_app.config,
                                   call_logger=calls.append if calls is not None else None)


def check_request(amount_kobo: int, gateway: str) -> None:
    """Raise ``FundingError`` unless the amount is within the configured bounds and the gateway known."""
    if gateway not in GATEWAYS:
        raise FundingError("Choose Paystack or Flutterwave.", "gateway")
    if not isinstance(amount_kobo, int) or isinstance(amount_kobo, bool):
        raise TypeError("amount_kobo must be an int")
    low, high = current_app.config["FUNDING_MIN_KOBO"], current_app.config["FUNDING_MAX_KOBO"]
    if amount_kobo < low:
        raise FundingError(f"The least you can add is {naira(low)}.", "amount")
    if amount_kobo > high:
        raise FundingError(f"The most you can add at once is {naira(high)}.", "amount")


def start_funding(user, amount_kobo: int, gateway: str, callback_url: str) -> FundingIntent:
    """Create a pending intent and open the gateway's checkout for it.

    ``callback_url`` is where the gateway sends the resident back (our return page, absolute URL).
    Returns the intent: ``checkout_url`` is set when the checkout opened; otherwise the intent is
    ``failed`` with a reason in plain words. Raises ``FundingError`` (nothing created) on bad input.
    """
    check_request(amount_kobo, gateway)
    ttl = timedelta(minutes=current_app.config["FUNDING_INTENT_TTL_MINUTES"])
    reference, customer = new_reference(), {"email": user.email, "name": user.full_name, "phone": user.phone}
    intent = FundingIntent(
        reference=reference, user_id=user.id, gateway=gateway, amount_kobo=amount_kobo,
        currency=CURRENCY, status=FundingStatus.PENDING.value, expires_at=utcnow() + ttl,
    )
    db.session.add(intent)
    db.session.commit()  # evidence first: the row exists before the gateway hears of it

    # No transaction is open during the gateway call: only plain values are used until it returns.
    calls: list = []
    try:
        session = funding_client(gateway, calls).initialize(
            reference, amount_kobo, customer["email"], callback_url,
            customer_name=customer["name"], phone=customer["phone"],
        )
    except (ProviderError, ProviderConfigError) as exc:
        log.warning("funding %s: %s initialize failed: %s", reference, gateway,
                    getattr(exc, "error_type", "not configured"))
        intent.status = FundingStatus.FAILED.value
        intent.failure_reason = CHECKOUT_UNAVAILABLE
    else:
        intent.checkout_url = session.checkout_url
        log.info("funding %s: %s checkout opened for %s kobo", reference, gateway, amount_kobo)
    persist_calls(None, calls)
    db.session.commit()
    return intent


def confirm_funding(reference: str, source: str, user_id: int | None = None) -> FundingIntent:
    """Ask the gateway what happened to ``reference`` and settle the intent; credit at most once.

    ``source`` says who asked ("return", "webhook", "expiry"), for the log; ``user_id`` scopes the
    lookup to one resident. Raises ``UnknownFunding`` for a reference we never issued (or not
    theirs) and ``VerificationUnavailable`` when the gateway cannot be asked (nothing changed).
    """
    intent = find_intent(reference, user_id=user_id)
    if intent is None:
        raise UnknownFunding(reference)
    if intent.is_final:
        return intent
    verification = _verify(intent.gateway, intent.reference)
    return _settle(reference, verification, source)


def find_intent(reference: str, user_id: int | None = None) -> FundingIntent | None:
    """The intent with this reference (and owner, when given), or None."""
    query = select(FundingIntent).where(FundingIntent.reference == reference)
    if user_id is not None:
        query = query.where(FundingIntent.user_id == user_id)
    return db.session.scalar(query)


def _verify(gateway: str, reference: str):
    """The gateway's answer for ``reference``, asked with no transaction open.

    Its call log rows are left in the session for the settlement to commit; when the gateway
    cannot answer they are committed here before raising.
    """
    db.session.commit()  # hold no snapshot or lock across the HTTP call
    calls: list = []
    try:
        verification = funding_client(gateway, calls).verify(reference)
    except ProviderError as exc:
        log.warning("funding %s: %s verify unavailable: %s", reference, gateway, exc.error_type)
        persist_calls(None, calls)
        db.session.commit()
        raise VerificationUnavailable(exc.message) from exc
    persist_calls(None, calls)
    return verification


def _lock_intent(reference: str) -> FundingIntent:
    """Start a new transaction holding the intent's row lock; return the intent freshly read.

    The commit first (it also saves the call log) makes the transaction new: on SQLite (WAL) a
    transaction that read before another connection committed may not write afterwards. The no-op
    UPDATE then takes the row lock on PostgreSQL and the single writer lock on SQLite (which ignores
    FOR UPDATE), so a racing caller waits here and then reads the committed status.
    """
    db.session.commit()
    db.session.execute(
        update(FundingIntent).where(FundingIntent.reference == reference).values(updated_at=utcnow())
    )
    return db.session.scalars(
        select(FundingIntent)
        .where(FundingIntent.reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _settle(reference: str, verification, source: str, *, expiring: bool = False) -> FundingIntent:
    """Apply a verification to the locked intent and commit. No HTTP in here: the row is locked."""
    intent = _lock_intent(reference)
    if intent.status in FINAL:
        db.session.commit()
        return intent
    intent.verification = _json_safe(verification.raw)
    if verification.gateway_transaction_id:
        intent.gateway_transaction_id = str(verification.gateway_transaction_id)[:64]
    if verification.status == "success":
        problem = _mismatch(intent, verification)
        if problem:
            intent.status = FundingStatus.FLAGGED.value
            intent.flag_reason = problem
            log.warning("funding %s: flagged (%s), not credited: %s", reference, source, problem)
            _record(intent, "wallet.flag", source, problem)
        else:
            ledger.credit_funding(intent.user_id, intent.amount_kobo, intent.gateway, intent.reference,
                                  bank_transfer=intent.virtual_account_id is not None)
            intent.status = FundingStatus.CREDITED.value
            intent.credited_at = utcnow()
            intent.failure_reason = None
            if verification.saved_card is not None and verification.saved_card.reusable:
                intent.saved_card = _remember_card(intent, verification.saved_card)
            log.info("funding %s: credited %s kobo (via %s)", reference, intent.amount_kobo, source)
            _record(intent, "wallet.credit", source)
            notify.notify(intent.user_id, notify.NotificationEvent.WALLET_FUNDED, title="Wallet funded",
                          body=f"{naira(intent.amount_kobo)} {_source_words(intent)} is in your wallet.",
                          link="/wallet/", dedup_key=f"funding:{intent.reference}:credited")
    elif intent.status == FundingStatus.PENDING:
        status, reason = _unpaid_outcome(verification.status, expiring)
        if status != intent.status:
            intent.status, intent.failure_reason = status, reason
            log.info("funding %s: %s (gateway says %s, via %s)", reference, status, verification.status, source)
    db.session.commit()
    notify.enqueue_pending_emails()
    return intent


def _record(intent: FundingIntent, action: str, source: str, reason: str | None = None) -> None:
    """Money-affecting: one audit row, in the same transaction as the credit or the flag."""
    user = db.session.get(User, intent.user_id)
    audit.record(action, "funding_intent", intent.id, estate_id=user.estate_id if user else None,
                 after={"reference": intent.reference, "gateway": intent.gateway, "amount_kobo": intent.amount_kobo,
                        "status": intent.status}, reason=reason, actor=f"gateway:{source}")


def _json_safe(raw) -> dict:
    """The redacted gateway answer as JSON; Decimal amounts become strings (never floats)."""
    value = json.loads(json.dumps(raw, default=str))
    return value if isinstance(value, dict) else {"raw": value}


def _source_words(intent: FundingIntent) -> str:
    if intent.virtual_account_id is not None:
        return f"by bank transfer (via {intent.gateway.title()})"
    return f"from {intent.gateway.title()}"


def _mismatch(intent: FundingIntent, verification) -> str | None:
    """Why the gateway's successful transaction is not the one we asked for, or None if it is.

    A transfer's intent holds what the webhook claimed (amount, the account's customer): the
    verified record must agree with it, and be a transfer into that resident's account.
    """
    if verification.reference != intent.reference:
        return f"gateway reference {verification.reference!r} differs from ours"
    if (verification.currency or "").upper() != intent.currency:
        return f"gateway currency {verification.currency!r} differs from {intent.currency}"
    transfer = intent.virtual_account_id is not None
    if verification.amount_kobo != intent.amount_kobo:
        return (f"gateway amount {naira(verification.amount_kobo)} differs from the "
                f"{naira(intent.amount_kobo)} {'the webhook claimed' if transfer else 'asked for'}")
    if transfer:
        account = db.session.get(VirtualAccount, intent.virtual_account_id)
        if verification.channel != virtual_accounts.TRANSFER_CHANNEL:
            return f"gateway channel {verification.channel!r} is not a transfer into a dedicated account"
        if verification.customer_code != account.customer_code:
            return f"gateway customer {verification.customer_code!r} does not own account {account.account_number}"
    return None


def _unpaid_outcome(gateway_status: str, expiring: bool) -> tuple[str, str | None]:
    """Where a pending intent goes when the gateway reports anything but success."""
    if gateway_status == "failed":
        return FundingStatus.FAILED.value, DECLINED
    if gateway_status == "reversed":
        return FundingStatus.FAILED.value, REVERSED
    if expiring:
        return FundingStatus.EXPIRED.value, EXPIRED
    if gateway_status == "abandoned":
        return FundingStatus.ABANDONED.value, ABANDONED
    return FundingStatus.PENDING.value, None  # "pending" or "not_found": not paid yet


def _remember_card(intent: FundingIntent, card) -> SavedCard:
    """Keep a reusable authorization as the resident's saved card (one row per physical card)."""
    identity = {
        "user_id": intent.user_id, "gateway": intent.gateway, "brand": (card.brand or "")[:30],
        "last4": (card.last4 or "")[-4:], "exp_month": str(card.exp_month or "")[:2],
        "exp_year": str(card.exp_year or "")[:4],
    }
    saved = db.session.scalar(select(SavedCard).filter_by(**identity))
    if saved is None:
        try:
            with db.session.begin_nested():
                saved = SavedCard(**identity, authorization_code=card.authorization_code, reusable=True)
                db.session.add(saved)
        except IntegrityError:  # the same card saved by a concurrent funding a moment ago
            saved = db.session.scalars(select(SavedCard).filter_by(**identity)).one()
    saved.authorization_code = card.authorization_code
    saved.reusable = True
    return saved


def handle_webhook(gateway: str, raw_body: bytes, headers: Mapping) -> WebhookResult:
    """Check a gateway webhook's signature, then confirm the funding it names through the API.

    The body is only a hint: it picks the intent, and ``confirm_funding`` verifies with the gateway
    before any credit. A Flutterwave bill-status event goes to ``bill_events`` instead (a status
    query of the payment it names). Raises ``WebhookRejected`` (401 bad signature, 400 unreadable
    body), ``NotConfigured`` (no secret to check it with) and ``VerificationUnavailable`` (the
    gateway should redeliver later).
    """
    if gateway not in GATEWAYS:
        raise WebhookRejected("unknown gateway", 404)
    setting = WEBHOOK_SECRET_SETTINGS[gateway]
    if not current_app.config.get(setting):
        raise NotConfigured(f"{setting} is not set")
    try:
        client = funding_client(gateway)
    except ProviderConfigError as exc:
        raise NotConfigured(str(exc)) from exc
    if not client.verify_webhook(raw_body, headers):
        raise WebhookRejected("invalid signature", 401)
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("body is not JSON", 400) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("data", {}), dict):
        raise WebhookRejected("body is not a JSON object", 400)
    event = payload.get("event")
    if payout_webhooks.is_transfer_event(payload):  # a payout's transfer: Paystack has one webhook URL
        return _transfer_event(gateway, raw_body, headers)
    if gateway == Gateway.FLUTTERWAVE.value and event == bill_events.EVENT:
        return _bill_event(payload)  # merchants often give Flutterwave one webhook URL for everything
    if event not in FUNDING_EVENTS[gateway]:
        log.info("%s webhook: event %r ignored", gateway, event)
        return WebhookResult("ignored")
    data = payload.get("data") or {}
    reference = data.get(WEBHOOK_REFERENCE_FIELD[gateway])
    intent = find_intent(reference) if isinstance(reference, str) and reference else None
    if intent is None and gateway == Gateway.PAYSTACK.value and isinstance(reference, str) and reference:
        try:
            intent = virtual_accounts.transfer_intent(reference, data)
        except virtual_accounts.TransferRejected as exc:
            raise WebhookRejected(str(exc), 400) from exc
    if intent is None or intent.gateway != gateway:
        log.warning("%s webhook: %s for unknown reference %r ignored", gateway, event, reference)
        return WebhookResult("ignored", reference if isinstance(reference, str) else None)
    intent = confirm_funding(reference, source="webhook")
    return WebhookResult(intent.status, reference)


def _transfer_event(gateway: str, raw_body: bytes, headers: Mapping) -> WebhookResult:
    """A payout transfer's event (already authenticated): a hint that queues a check of the payout."""
    try:
        return WebhookResult(payout_webhooks.handle(gateway, raw_body, headers, verified=True))
    except payout_webhooks.HintRejected as exc:
        raise WebhookRejected(str(exc), exc.status) from exc
    except (payout_webhooks.CheckUnavailable, payout_webhooks.GatewayUnavailable) as exc:
        raise VerificationUnavailable(str(exc)) from exc


def _bill_event(payload: dict) -> WebhookResult:
    """A Flutterwave bill-status event that came to the funding URL: handled as at the bills route."""
    try:
        result = bill_events.handle_event(payload)
    except bill_events.BillEventRejected as exc:
        raise WebhookRejected(str(exc), exc.status) from exc
    except bill_events.CheckUnavailable as exc:
        raise VerificationUnavailable(str(exc)) from exc
    return WebhookResult(result.outcome, result.reference)


def expire_abandoned(now: datetime | None = None, batch: int = 200) -> int:
    """Close pending intents whose checkout lifetime has passed; return how many expired.

    Each is verified with the gateway first, so a payment whose webhook never arrived is credited
    rather than expired. An intent the gateway cannot be asked about stays pending for the next run.
    """
    now = now or utcnow()
    stale = db.session.execute(
        select(FundingIntent.reference, FundingIntent.gateway)
        .where(FundingIntent.status == FundingStatus.PENDING.value, FundingIntent.expires_at <= now)
        .order_by(FundingIntent.expires_at)
        .limit(batch)
    ).all()
    expired = 0
    for reference, gateway in stale:
        try:
            verification = _verify(gateway, reference)
        except VerificationUnavailable:
            continue
        if _settle(reference, verification, "expiry", expiring=True).status == FundingStatus.EXPIRED:
            expired += 1
    return expired


# Reading the wallet. GET pages must not open a wallet account, so these never create one.

@dataclass(frozen=True)
class WalletSummary:
    balance_kobo: int
    recent_lines: list  # ledger StatementLine, newest first
    recent_fundings: list[FundingIntent]


def wallet_statement(user_id: int, page: int = 1, per_page: int = 20):
    """One page of the resident's statement (``ledger.statement``): empty when no wallet exists yet."""
    account_id = db.session.scalar(select(Account.id).where(Account.user_id == user_id))
    # No wallet yet means no postings: an id that matches none gives the same empty page.
    return ledger.statement(account_id or 0, page=page, per_page=per_page)


def wallet_summary(user_id: int, recent: int = 5) -> WalletSummary:
    """Balance, the latest statement lines and the latest top-ups, for the wallet's front page."""
    fundings = db.session.scalars(
        select(FundingIntent).where(FundingIntent.user_id == user_id)
        .order_by(FundingIntent.created_at.desc(), FundingIntent.id.desc()).limit(recent)
    ).all()
    return WalletSummary(
        balance_kobo=ledger.wallet_balance(user_id),
        recent_lines=list(wallet_statement(user_id, page=1, per_page=recent).items),
        recent_fundings=list(fundings),
    )
