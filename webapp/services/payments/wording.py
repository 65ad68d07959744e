"""Provider errors in plain words for residents."""
from __future__ import annotations

from webapp.providers.base import PaymentErrorType, ProviderError

T = PaymentErrorType
PLAIN = {
    T.INVALID_CUSTOMER_ID: "The provider does not recognise this customer number.",
    T.METER_NOT_FOUND: "No customer found for this meter number.",
    T.CUSTOMER_VALIDATION_FAILED: "The provider could not confirm this customer number.",
    T.AMOUNT_OUT_OF_RANGE: "The amount is outside what the provider accepts for this service.",
    T.LIMIT_EXCEEDED: "The amount is above the provider's limit for this service.",
    T.UTILITY_PROVIDER_ERROR: "The utility company refused this purchase.",
    T.UTILITY_SERVICE_UNAVAILABLE: "This service is not available from the provider right now.",
    T.AUTHENTICATION_ERROR: "We could not connect to the provider. Our team has been told.",
    T.RATE_LIMITED: "The provider is busy. We will try again shortly.",
    T.NETWORK_ERROR: "We could not reach the provider.",
    T.TIMEOUT_ERROR: "The provider took too long to answer.",
    T.VALIDATION_ERROR: "The provider rejected the details of this payment.",
    T.INSUFFICIENT_FUNDS: "The provider could not complete the purchase right now.",
}


def describe_error(err: ProviderError) -> str:
    """The provider's own message when it is readable, else our wording for the error type."""
    message = (err.message or "").strip()
    if message and len(message) < 160 and "<" not in message:
        return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")
    return PLAIN.get(err.error_type, "The provider could not complete this payment.")
