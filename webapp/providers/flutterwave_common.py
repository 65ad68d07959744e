"""Flutterwave envelope parsing and the reading of its error messages.

Flutterwave refusals carry no stable machine code, only ``message``, so refusals are classified
by words. The order matters: signs that the request may have been taken (timeout, pending,
duplicate) win over everything, because calling those permanent could refund a paid bill.
"""
from __future__ import annotations

from collections.abc import Mapping

from webapp.providers.base import ErrorClass, PaymentErrorType
from webapp.providers.http import Reply

NOT_FOUND_WORDS = ("not found", "no transaction", "no record", "does not exist", "doesn't exist", "no bill")
_UNCLEAR_WORDS = ("timeout", "timed out", "requery", "pending", "processing", "in progress")
_DUPLICATE_WORDS = ("duplicate", "already exist", "already been used", "already used")
_MERCHANT_BALANCE_WORDS = ("insufficient balance", "insufficient fund", "low balance", "wallet balance")
_RATE_WORDS = ("rate limit", "too many requests")
_RETRY_WORDS = ("try again", "retry", "temporarily", "unavailable")
_FAILED_WORDS = ("failed", "blocked", "declined")
_AMOUNT_WORDS = ("amount", "minimum", "maximum")
_CUSTOMER_WORDS = ("customer", "meter", "smart card", "smartcard", "account number", "invalid number")

T = PaymentErrorType
MESSAGES = {
    T.DUPLICATE_REFERENCE: "This payment was already sent; we are checking its status.",
    T.UTILITY_SERVICE_UNAVAILABLE: "The provider cannot take payments right now. We'll try again.",
    T.RATE_LIMITED: "The provider is busy right now. We'll try again shortly.",
    T.AMOUNT_OUT_OF_RANGE: "The amount is outside what the provider accepts for this service.",
    T.INVALID_CUSTOMER_ID: "The provider could not find this customer number. Please check it and try again.",
    T.OUTCOME_UNKNOWN: "Flutterwave did not confirm this payment yet. We are checking its status; "
                       "you will not be charged twice.",
    T.VALIDATION_ERROR: "The provider rejected the payment details.",
    T.NOT_FOUND: "The provider has no record of this payment.",
}


def envelope_ok(body: Mapping) -> bool:
    return str(body.get("status", "")).lower() == "success"


def is_error_envelope(body: Mapping) -> bool:
    return str(body.get("status", "")).lower() == "error"


def data_of(body: Mapping) -> Mapping | None:
    data = body.get("data")
    return data if isinstance(data, Mapping) else None


def message_text(body: Mapping) -> str:
    message = body.get("message")
    return message if isinstance(message, str) else ""


def status_of(data: Mapping) -> str:
    value = data.get("status")
    return value.strip().lower() if isinstance(value, str) else ""


def classify_refusal(reply: Reply, *, default: PaymentErrorType,
                     moves_money: bool) -> tuple[PaymentErrorType, ErrorClass, str]:
    """(type, class, resident message) for an error envelope or a 4xx answer."""
    text = message_text(reply.body).lower()

    def has(words: tuple[str, ...]) -> bool:
        return any(word in text for word in words)

    if has(_DUPLICATE_WORDS):
        return T.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN, MESSAGES[T.DUPLICATE_REFERENCE]
    if has(_UNCLEAR_WORDS):
        if moves_money:
            return T.OUTCOME_UNKNOWN, ErrorClass.OUTCOME_UNKNOWN, MESSAGES[T.OUTCOME_UNKNOWN]
        return T.TIMEOUT_ERROR, ErrorClass.TRANSIENT, "The provider did not answer in time. Please try again."
    if has(_RATE_WORDS):
        return T.RATE_LIMITED, ErrorClass.TRANSIENT, MESSAGES[T.RATE_LIMITED]
    if has(_MERCHANT_BALANCE_WORDS) or has(_RETRY_WORDS):  # refused, not processed: same reference later
        return T.UTILITY_SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT, MESSAGES[T.UTILITY_SERVICE_UNAVAILABLE]
    if has(_FAILED_WORDS):  # the provider took the request and says it failed, e.g. a blocked meter
        return default, ErrorClass.PERMANENT, _declined(message_text(reply.body))
    if has(_AMOUNT_WORDS):
        return T.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT, MESSAGES[T.AMOUNT_OUT_OF_RANGE]
    if has(_CUSTOMER_WORDS):
        return T.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT, MESSAGES[T.INVALID_CUSTOMER_ID]
    if reply.status == 404 or has(NOT_FOUND_WORDS):
        if moves_money:  # the biller or item does not exist
            return T.VALIDATION_ERROR, ErrorClass.PERMANENT, MESSAGES[T.VALIDATION_ERROR]
        return T.NOT_FOUND, ErrorClass.PERMANENT, MESSAGES[T.NOT_FOUND]
    return default, ErrorClass.PERMANENT, _declined(message_text(reply.body))


def _declined(said: str) -> str:
    said = said.strip()
    return f"The provider declined this request: {said}" if said else "The provider declined this request."
