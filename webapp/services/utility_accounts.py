"""Residents' linked utility accounts: meters, smart cards and customer numbers they pay for.

A number is only linked after its bills provider has confirmed who it belongs to, so a resident
sees "Ada Okafor, 12 Allen Avenue" before saving and never pays a stranger's meter by a typo.
The inline (HTMX) preview and the save both validate: the save never trusts the preview.

Numbers are encrypted at rest; ``number_hash`` (a keyed hash) is what the "already linked" check
and the database's unique index use. Removing an account is soft (``removed_at``): payments keep
pointing at it and its history stays readable, while the number may be linked again.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.infra import crypto
from webapp.models.base import utcnow
from webapp.models.catalogue import DEFAULT_LABELS, UTILITY_TYPES, UtilityProvider
from webapp.models.payment import ProviderCallLog
from webapp.models.utility_account import UtilityAccount
from webapp.providers import registry
from webapp.providers.base import (
    CustomerInfo,
    ErrorClass,
    PaymentErrorType,
    ProviderCall,
    ProviderConfigError,
    ProviderError,
)
from webapp.services import access, catalogue

NICKNAME_MAX = 60
GENERIC_LABEL = "Meter or card number"
# (min, max) digits a number may have, per utility type. Meters and smart cards are 10-13 digits.
NUMBER_LENGTHS = {"electricity": (10, 13), "cable_tv": (10, 13), "water": (6, 20), "internet": (6, 20)}
_DIGITS = re.compile(r"\d+")

# Permanent provider answers that mean "this number is nobody's".
_NOT_FOUND_TYPES = frozenset({
    PaymentErrorType.INVALID_CUSTOMER_ID, PaymentErrorType.METER_NOT_FOUND,
    PaymentErrorType.CUSTOMER_VALIDATION_FAILED, PaymentErrorType.NOT_FOUND, PaymentErrorType.VALIDATION_ERROR,
})


class AccountError(ValueError):
    """Input a resident can correct; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "customer_number") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CheckUnavailable(AccountError):
    """The provider could not be asked right now; trying again later may work."""


@dataclass(frozen=True)
class LinkChoices:
    """What the link form offers a resident: utility types with active entries, and the entries."""

    types: list[str]
    providers: list[UtilityProvider]


# --- the estate's catalogue, as a resident sees it -----------------------------------------

def choices(user, utility_type: str | None = None) -> LinkChoices:
    """Utility types on offer in the resident's estate, and its active entries (of one type if given)."""
    entries = catalogue.active_for_estate(user.estate_id)
    present = {entry.provider_type for entry in entries}
    types = [t for t in UTILITY_TYPES if t in present]
    if utility_type in present:
        entries = [entry for entry in entries if entry.provider_type == utility_type]
    return LinkChoices(types=types, providers=entries)


def provider_for(user, provider_id: int | None) -> UtilityProvider | None:
    """An entry the resident may link to: active and in their own estate (None otherwise)."""
    if not provider_id:
        return None
    entry = access.estate_catalogue_entry(user.estate_id, provider_id)
    if entry is None or not entry.is_active:
        return None
    return entry


def number_label(entry: UtilityProvider | None, utility_type: str | None = None) -> str:
    """What to call the number: the provider's label, else one for the type, else a generic one."""
    if entry is not None:
        return entry.customer_label
    return DEFAULT_LABELS.get(utility_type or "", GENERIC_LABEL)


def number_hint(entry: UtilityProvider | None, utility_type: str | None = None) -> str:
    kind = entry.provider_type if entry is not None else utility_type
    low, high = NUMBER_LENGTHS.get(kind or "", (10, 13))
    return f"{low} to {high} digits, as printed on your meter, card or bill. Spaces and dashes are fine."


# --- validation -------------------------------------------------------------------------------

def _require_provider(user, provider_id: int | None) -> UtilityProvider:
    entry = provider_for(user, provider_id)
    if entry is None:
        raise AccountError("Choose a provider from the list.", field="provider_id")
    return entry


def _check_format(entry: UtilityProvider, raw_number: str | None) -> str:
    """The normalised number, or ``AccountError`` naming the provider's label. No HTTP here."""
    label = entry.customer_label
    number = crypto.normalise_number(raw_number or "")
    low, high = NUMBER_LENGTHS.get(entry.provider_type, (10, 13))
    if not number:
        raise AccountError(f"Enter the {label}.")
    if not _DIGITS.fullmatch(number):
        raise AccountError(f"{label} must contain digits only (0-9), {low} to {high} digits.")
    if not low <= len(number) <= high:
        raise AccountError(f"{label} must be {low} to {high} digits.")
    return number


def _body_text(body: Any) -> str | None:
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text[:4000]


def _log_calls(calls: list[ProviderCall]) -> None:
    """Keep validation calls in the provider call log (the client has already redacted them)."""
    for call in calls:
        db.session.add(ProviderCallLog(
            payment_id=None, provider=call.provider[:20], operation=call.operation[:40], method=call.method[:8],
            url=call.url[:500], http_status=call.http_status, latency_ms=int(call.latency_ms),
            request_body=_body_text(call.request_body), response_body=_body_text(call.response_body),
            error=(call.error or None) and str(call.error)[:255],
        ))


def _ask_provider(entry: UtilityProvider, number: str) -> CustomerInfo:
    label = entry.customer_label.lower()
    if not entry.supports_validation:
        # Nothing to ask: the provider offers no lookup for this item, so the number is taken as typed.
        return CustomerInfo(customer_id=number, name="", meter_type=entry.meter_type)
    calls: list[ProviderCall] = []
    try:
        service = registry.utility_service(entry.api_provider, current_app.config, call_logger=calls.append)
        return service.validate_customer(entry, number)
    except ProviderError as exc:
        if exc.error_class is ErrorClass.PERMANENT and exc.error_type in _NOT_FOUND_TYPES:
            raise AccountError(f"No customer found for this {label}. Check the number and try again.") from exc
        if exc.error_class is ErrorClass.PERMANENT:
            raise CheckUnavailable(
                f"{entry.biller_name or entry.name} cannot check numbers at the moment. Please try again later."
            ) from exc
        raise CheckUnavailable(
            f"We could not check this {label} right now. Please try again in a minute."
        ) from exc
    except ProviderConfigError as exc:
        current_app.logger.error("customer validation impossible for %s: %s", entry.api_provider, exc)
        raise CheckUnavailable(
            f"{entry.biller_name or entry.name} cannot check numbers at the moment. Please try again later."
        ) from exc
    finally:
        _log_calls(calls)
        db.session.commit()


def validate_number(user, provider_id: int | None, raw_number: str | None) -> CustomerInfo:
    """Who a number belongs to, according to its bills provider.

    The entry must be active in the resident's estate; the number's format is checked here
    first, so a typo never costs a provider call. Raises ``AccountError`` (the resident can fix
    it) or ``CheckUnavailable`` (the provider could not answer; try later).
    """
    entry = _require_provider(user, provider_id)
    number = _check_format(entry, raw_number)
    return _ask_provider(entry, number)


# --- linking and managing accounts --------------------------------------------------------------

def _already_linked(user_id: int, number_hash: str) -> UtilityAccount | None:
    return db.session.scalar(access.own_utility_accounts(user_id).where(UtilityAccount.number_hash == number_hash))


def _duplicate_error(entry: UtilityProvider, existing: UtilityAccount | None) -> AccountError:
    label = entry.customer_label.lower()
    if existing is None:
        return AccountError(f"You have already linked this {label}.")
    return AccountError(f"You have already linked this {label} as “{existing.nickname}”.")


def _clean_nickname(nickname: str | None) -> str:
    text = " ".join((nickname or "").split())
    if len(text) > NICKNAME_MAX:
        raise AccountError(f"Keep the nickname to {NICKNAME_MAX} characters or fewer.", field="nickname")
    return text


def reported_outstanding(entry: UtilityProvider | None, info: CustomerInfo | None) -> int | None:
    """What a POSTPAID account owes according to its provider's validate answer, in kobo; None when
    the account is not postpaid or the answer does not say.

    Only what the provider put in the answer is shown, never a guess: VTpass ``merchant-verify``
    ``content.Customer_Arrears``, Flutterwave ``GET /bill-items/{item}/validate`` ``data.outstanding``
    (parsed into ``outstanding_kobo`` by the clients in ``webapp/providers``, which cite where each
    provider documents it; either may be absent).
    """
    if info is None or info.outstanding_kobo is None:
        return None
    meter_type = info.meter_type or (entry.meter_type if entry is not None else None)
    # A negative figure is money in hand, not a debt: the account owes nothing.
    return max(0, info.outstanding_kobo) if meter_type == "postpaid" else None


def link_account(user, provider_id: int | None, raw_number: str | None, nickname: str | None) -> UtilityAccount:
    """Validate a number with its provider and save it as one of the resident's accounts.

    Validates again on save (never trusting an earlier preview) and refuses a number the
    resident already has linked, however it was spaced. A blank nickname becomes
    "<provider> <last four digits>". Commits.
    """
    return link_account_reporting(user, provider_id, raw_number, nickname)[0]


def link_account_reporting(user, provider_id: int | None, raw_number: str | None,
                           nickname: str | None) -> tuple[UtilityAccount, int | None]:
    """``link_account``, also returning the outstanding amount the provider reported for a postpaid
    account when it validated the number (``reported_outstanding``), for the resident to see."""
    entry = _require_provider(user, provider_id)
    number = _check_format(entry, raw_number)
    name = _clean_nickname(nickname)
    number_hash = crypto.lookup_hash(number)
    existing = _already_linked(user.id, number_hash)
    if existing is not None:
        raise _duplicate_error(entry, existing)
    info = _ask_provider(entry, number)
    account = UtilityAccount(
        user_id=user.id,
        provider_id=entry.id,
        nickname=name or f"{entry.name} {number[-4:]}"[:NICKNAME_MAX],
        customer_number=number,
        number_hash=number_hash,
        number_last4=number[-4:],
        customer_name=(info.name or "").strip()[:160] or None,
        customer_address=(info.address or "").strip()[:255] or None,
        meter_type=(info.meter_type or entry.meter_type or None),
        validated_at=utcnow() if entry.supports_validation else None,
    )
    account.provider = entry
    db.session.add(account)
    try:
        db.session.commit()
    except IntegrityError as exc:
        # Two saves of the same number at once: the partial unique index lets only one through.
        db.session.rollback()
        raise _duplicate_error(entry, _already_linked(user.id, number_hash)) from exc
    return account, reported_outstanding(entry, info)


def list_accounts(user_id: int) -> list[UtilityAccount]:
    """The resident's accounts that are not removed, with their catalogue entries, in one query."""
    return list(db.session.scalars(
        access.own_utility_accounts(user_id)
        .options(joinedload(UtilityAccount.provider))
        .order_by(UtilityAccount.nickname, UtilityAccount.id)
    ).unique())


def rename(user_id: int, account_id: int, nickname: str | None) -> UtilityAccount | None:
    """Give an account a new nickname. None if it is not the resident's; ``AccountError`` if blank."""
    account = access.own_utility_account(user_id, account_id)
    if account is None:
        return None
    name = _clean_nickname(nickname)
    if not name:
        raise AccountError("Enter a nickname, like “Home meter”.", field="nickname")
    account.nickname = name
    db.session.commit()
    return account


def remove(user_id: int, account_id: int) -> UtilityAccount | None:
    """Remove an account from the resident's list, keeping the row for its payment history.

    None if it is not the resident's (or already removed).
    """
    account = access.own_utility_account(user_id, account_id)
    if account is None:
        return None
    account.removed_at = utcnow()
    db.session.commit()
    return account


__all__ = [
    "AccountError", "CheckUnavailable", "LinkChoices", "choices", "link_account", "list_accounts",
    "number_hint", "number_label", "provider_for", "remove", "rename", "validate_number",
]
