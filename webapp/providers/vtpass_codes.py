"""VTpass response codes and what each means for a payment.

VTpass answers HTTP 200 with a ``code``; the code, not the HTTP status, carries the outcome.
Their own rule: any answer that is unclear, or no answer at all, is pending and must be requeried.
So only codes that say "not processed" (nothing charged) are transient, only codes that say the
request was refused are permanent, and everything unexpected after a purchase is outcome unknown.
"""
from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from webapp.providers.base import ErrorClass, PaymentErrorType

LAGOS = ZoneInfo("Africa/Lagos")

PROCESSED = {"000", "001"}  # read content.transactions.status
PENDING = {"099", "089", "044"}  # processing / still processing / resolved manually: requery later
FAILED = {"040"}  # reversed to the merchant wallet: a final failure
NOT_FOUND = "015"  # requery: this request_id was never used
VERIFIED = {"000", "020"}

T = PaymentErrorType
P, R, U = ErrorClass.PERMANENT, ErrorClass.TRANSIENT, ErrorClass.OUTCOME_UNKNOWN

# code -> (error type, class, resident-facing message)
ERRORS: dict[str, tuple[PaymentErrorType, ErrorClass, str]] = {
    "016": (T.UTILITY_PROVIDER_ERROR, P, "The provider declined this payment."),
    "010": (T.VALIDATION_ERROR, P, "This plan is no longer offered by the provider."),
    "011": (T.VALIDATION_ERROR, P, "The provider rejected the payment details."),
    "012": (T.VALIDATION_ERROR, P, "This product is not offered by the provider."),
    "013": (T.AMOUNT_OUT_OF_RANGE, P, "The amount is below the provider's minimum."),
    "017": (T.AMOUNT_OUT_OF_RANGE, P, "The amount is above the provider's maximum."),
    "031": (T.AMOUNT_OUT_OF_RANGE, P, "The quantity is below the provider's minimum."),
    "032": (T.AMOUNT_OUT_OF_RANGE, P, "The quantity is above the provider's maximum."),
    "015": (T.VALIDATION_ERROR, P, "The provider rejected the payment reference."),
    # 085: the request_id's date is not today in Lagos (our ids are always well formed), as for a
    # purchase sent again after midnight. VTpass processed nothing; the lifecycle asks about the
    # old request_id and, once VTpass says it never saw it (015), sends it under today's date.
    "085": (T.DUPLICATE_REFERENCE, U, "The provider asked for a new payment reference; we are checking "
                                      "this payment and will not charge you twice."),
    # Merchant account problems: nothing the resident can fix and retrying will not help.
    "021": (T.AUTHENTICATION_ERROR, P, "Payments through this provider are unavailable right now."),
    "022": (T.AUTHENTICATION_ERROR, P, "Payments through this provider are unavailable right now."),
    "023": (T.AUTHENTICATION_ERROR, P, "Payments through this provider are unavailable right now."),
    "024": (T.AUTHENTICATION_ERROR, P, "Payments through this provider are unavailable right now."),
    "027": (T.AUTHENTICATION_ERROR, P, "Payments through this provider are unavailable right now."),
    "087": (T.AUTHENTICATION_ERROR, P, "Payments through this provider are unavailable right now."),
    "028": (T.UTILITY_SERVICE_UNAVAILABLE, P, "This service is not available through the provider."),
    "034": (T.UTILITY_SERVICE_UNAVAILABLE, P, "The provider has suspended this service."),
    "035": (T.UTILITY_SERVICE_UNAVAILABLE, P, "The provider has turned this service off."),
    # Not processed and not charged: safe to send again later under the same request_id.
    "018": (T.UTILITY_SERVICE_UNAVAILABLE, R, "The provider cannot take payments right now. We'll try again."),
    "030": (T.UTILITY_SERVICE_UNAVAILABLE, R, "The biller cannot be reached right now. We'll try again."),
    "091": (T.UTILITY_SERVICE_UNAVAILABLE, R, "The provider did not process this payment. We'll try again."),
    "019": (T.RATE_LIMITED, R, "A payment to this account was just made. We'll try again shortly."),
    # The request_id already has a transaction: its status, not a resend, tells the outcome.
    "014": (T.DUPLICATE_REFERENCE, U, "This payment was already sent; we are checking its status."),
}
LIKELY_DUPLICATE_WAIT_SECONDS = 30.0

TRANSACTION_STATUS = {
    "delivered": "succeeded",
    "successful": "succeeded",
    "success": "succeeded",
    "initiated": "pending",
    "pending": "pending",
    "processing": "pending",
    "reversed": "failed",
    "failed": "failed",
}

_REQUEST_ID = re.compile(r"^(\d{12})([A-Za-z0-9]+)$")
_SUFFIX = re.compile(r"^[A-Za-z0-9]+$")


def lagos_now(now: datetime | None = None) -> datetime:
    """``now`` (aware, or naive meaning UTC) in Africa/Lagos; the current time when None."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(LAGOS)


def make_request_id(suffix: str, now: datetime | None = None) -> str:
    """A VTpass request_id: Africa/Lagos time as YYYYMMDDHHII, then an alphanumeric suffix."""
    if not isinstance(suffix, str) or not _SUFFIX.match(suffix):
        raise ValueError("a VTpass request_id suffix must be a non-empty string of letters and digits")
    return lagos_now(now).strftime("%Y%m%d%H%M") + suffix


def reference_for(now: datetime | None = None) -> str:
    """A new unique payment reference that is also a valid VTpass request_id (and a valid
    Paystack/Flutterwave reference): 12 date digits plus 20 random hex characters."""
    return make_request_id(secrets.token_hex(10), now)


def request_id_day(request_id: str) -> str:
    """The Lagos date a request_id carries, as YYYYMMDD."""
    return request_id[:8]


def resend_request_id(reference: str, attempt: int, now: datetime | None = None) -> str:
    """A request_id for sending a purchase again on a later Lagos day: today's date-time, the
    first request_id's suffix, then ``R`` and the attempt number (unique per payment and attempt)."""
    if not isinstance(attempt, int) or attempt < 1:
        raise ValueError("attempt must be a positive number")
    return make_request_id(f"{reference[12:]}R{attempt}", now)


def is_valid_request_id(value: str) -> bool:
    """Whether ``value`` has the request_id shape (a real date-time prefix, alphanumeric suffix).

    Freshness is not checked: VTpass itself refuses (code 085) an id whose date is not today,
    which the client reports as a permanent error.
    """
    match = _REQUEST_ID.match(value or "")
    if not match:
        return False
    try:
        datetime.strptime(match.group(1), "%Y%m%d%H%M")  # noqa: DTZ007 - shape check only
    except ValueError:
        return False
    return True
