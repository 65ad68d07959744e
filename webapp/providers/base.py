"""Types shared by every provider client: typed errors and plain result dataclasses.

Clients never raise raw ``requests`` exceptions. Every failure is a ``ProviderError`` whose
``error_class`` tells the payment lifecycle what it may do next:

- ``permanent``: the provider refused and will refuse again (invalid customer, amount out of
  range, blocked meter, bad credentials). Fail the payment and refund.
- ``transient``: the provider did not accept the request (connection refused, connect timeout,
  429, an explicit "not processed" code) or a read failed. Retry later, same reference.
- ``outcome_unknown``: a request that moves money was sent and the answer is missing or unclear
  (read timeout, 5xx, malformed body). The money may have moved: requery, never fail or resend
  under a new reference.
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol


class PaymentErrorType(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NETWORK_ERROR = "network_error"
    PROVIDER_ERROR = "provider_error"
    VALIDATION_ERROR = "validation_error"
    TIMEOUT_ERROR = "timeout_error"
    AUTHENTICATION_ERROR = "authentication_error"
    LIMIT_EXCEEDED = "limit_exceeded"
    UTILITY_PROVIDER_ERROR = "utility_provider_error"
    INVALID_CUSTOMER_ID = "invalid_customer_id"
    UTILITY_SERVICE_UNAVAILABLE = "utility_service_unavailable"
    METER_NOT_FOUND = "meter_not_found"
    CUSTOMER_VALIDATION_FAILED = "customer_validation_failed"
    UNKNOWN_ERROR = "unknown_error"
    RATE_LIMITED = "rate_limited"
    DUPLICATE_REFERENCE = "duplicate_reference"
    OUTCOME_UNKNOWN = "outcome_unknown"
    NOT_FOUND = "not_found"
    AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
    MALFORMED_RESPONSE = "malformed_response"


class ErrorClass(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    OUTCOME_UNKNOWN = "outcome_unknown"


class ProviderError(Exception):
    """A provider call that did not produce a usable answer.

    ``message`` is written for a resident; ``detail`` is for operators. Both are redacted, as is
    ``raw`` (the provider's body, or None when nothing came back).
    """

    def __init__(
        self,
        error_type: PaymentErrorType,
        error_class: ErrorClass,
        message: str,
        *,
        http_status: int | None = None,
        raw: Any = None,
        provider: str = "",
        operation: str = "",
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = PaymentErrorType(error_type)
        self.error_class = ErrorClass(error_class)
        self.message = message
        self.http_status = http_status
        self.raw = raw
        self.provider = provider
        self.operation = operation
        self.detail = detail
        self.retry_after = retry_after

    @property
    def is_permanent(self) -> bool:
        return self.error_class is ErrorClass.PERMANENT

    @property
    def is_transient(self) -> bool:
        return self.error_class is ErrorClass.TRANSIENT

    @property
    def outcome_unknown(self) -> bool:
        return self.error_class is ErrorClass.OUTCOME_UNKNOWN

    def __str__(self) -> str:
        where = f"{self.provider} {self.operation}".strip()
        status = f" HTTP {self.http_status}" if self.http_status else ""
        extra = f": {self.detail}" if self.detail else ""
        return f"{where}{status} {self.error_type}/{self.error_class}: {self.message}{extra}".strip()

    def __repr__(self) -> str:
        return f"ProviderError({self.error_type!s}, {self.error_class!s}, {self.message!r})"


class ProviderConfigError(ValueError):
    """The registry was asked for an unknown provider or a setting it needs is missing."""


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: str
    name: str
    address: str | None = None
    meter_type: str | None = None
    min_amount_kobo: int | None = None
    max_amount_kobo: int | None = None
    outstanding_kobo: int | None = None
    raw: Any = None


# "not_found" is authoritative: the provider's own lookup by the key its status endpoint takes says
# it has no record of this purchase, so the purchase may be sent again. "unconfirmed" is a lookup that
# found nothing but cannot be trusted to (a listing that may lag): keep asking, never resend.
PurchaseStatus = Literal["succeeded", "pending", "failed", "not_found", "unconfirmed"]


@dataclass(frozen=True)
class PurchaseKeys:
    """Everything one purchase is known by, for a status query.

    ``request_ids`` are the keys we sent the purchase under, oldest first (our ``reference`` unless a
    VTpass resend on a later Lagos day needed a new one). ``refs`` are the provider's own references
    by kind (``tx_ref``, ``flw_ref``, ``transaction_id``). ``last_sent_at`` is when the newest
    purchase request went out (aware UTC), which a lookup that may lag needs.
    """

    reference: str
    request_ids: tuple[str, ...] = ()
    refs: Mapping[str, str] = field(default_factory=dict)
    last_sent_at: datetime | None = None

    @classmethod
    def of(cls, value: PurchaseKeys | str, provider_reference: str | None = None) -> PurchaseKeys:
        if isinstance(value, PurchaseKeys):
            return value
        refs = {"tx_ref": provider_reference} if provider_reference else {}
        return cls(reference=value, refs=refs)

    @property
    def all_request_ids(self) -> tuple[str, ...]:
        return self.request_ids or (self.reference,)


@dataclass(frozen=True)
class PurchaseResult:
    reference: str
    status: PurchaseStatus
    provider_reference: str | None = None
    amount_kobo: int | None = None
    token: str | None = None  # digits only, no spaces
    units: str | None = None
    # A meter that must take new keys first: KCT1, KCT2 (digits only), in the order they are typed.
    key_change_tokens: tuple[str, ...] = ()
    message: str = ""
    raw: Any = None
    # Every reference the provider gave in this answer, by kind (tx_ref, flw_ref, transaction_id).
    refs: Mapping[str, str] = field(default_factory=dict)
    # The request_id this answer is about (VTpass, when a purchase went out under several).
    request_id: str | None = None
    # "unconfirmed" only because the provider's records may still lag: when a lookup can first
    # prove "no record" (aware UTC), so the next check is made then rather than on the backoff.
    provable_at: datetime | None = None


@dataclass(frozen=True)
class CatalogueItem:
    api_provider: str
    utility_type: str  # "electricity" | "water" | "internet" | "cable_tv"
    provider_code: str  # Flutterwave biller_code or VTpass serviceID
    item_code: str  # Flutterwave item_code or VTpass variation_code / "prepaid" / "postpaid"
    name: str
    biller_name: str
    label_name: str
    fixed_amount_kobo: int = 0  # 0 = the customer chooses
    fee_kobo: int = 0
    min_amount_kobo: int | None = None
    max_amount_kobo: int | None = None
    supports_validation: bool = True
    meter_type: str | None = None


class CatalogueItemLike(Protocol):
    provider_code: str
    item_code: str
    meter_type: str | None


@dataclass(frozen=True)
class SavedCard:
    authorization_code: str
    last4: str | None
    brand: str | None
    exp_month: str | None
    exp_year: str | None
    reusable: bool

    def __repr__(self) -> str:  # the authorization code charges a card: keep it out of logs
        return (
            f"SavedCard(authorization_code='***', last4={self.last4!r}, brand={self.brand!r}, "
            f"exp_month={self.exp_month!r}, exp_year={self.exp_year!r}, reusable={self.reusable!r})"
        )


@dataclass(frozen=True)
class CheckoutSession:
    reference: str
    checkout_url: str
    raw: Any = None


FundingStatus = Literal["success", "failed", "abandoned", "pending", "reversed", "not_found"]


@dataclass(frozen=True)
class FundingVerification:
    reference: str
    status: FundingStatus
    amount_kobo: int | None = None
    currency: str | None = None
    gateway_transaction_id: str | None = None
    saved_card: SavedCard | None = None
    raw: Any = None
    # How the customer paid ("card", "dedicated_nuban" for a transfer into a virtual account...)
    # and the gateway's customer, where the gateway says.
    channel: str | None = None
    customer_code: str | None = None


@dataclass(frozen=True)
class GatewayCustomer:
    """A customer record at a funding gateway (Paystack: ``customer_code`` and numeric ``id``)."""

    code: str
    id: str | None
    raw: Any = None


@dataclass(frozen=True)
class DedicatedAccount:
    """A dedicated virtual bank account the gateway assigned to one of its customers."""

    account_number: str
    account_name: str
    bank_name: str
    active: bool
    customer_code: str | None
    raw: Any = None


@dataclass(frozen=True)
class ProviderCall:
    """One HTTP exchange with a provider, already redacted, for the call log."""

    provider: str
    operation: str
    method: str
    url: str
    http_status: int | None
    latency_ms: int
    request_body: Any = None
    response_body: Any = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


CallLogger = Callable[[ProviderCall], None]


class UtilityServiceInterface(abc.ABC):
    """A bills provider: catalogue, customer validation, purchase and status.

    ``purchase_utility`` returns a result whose status is "succeeded" or "pending" when the
    provider accepted the purchase, or "failed" when it reports the accepted transaction as failed
    or reversed; it raises ``ProviderError`` when the provider refused (permanent), did not accept
    (transient) or the outcome is unknown. ``query_status`` returns the provider's truth, including
    "not_found" (no record: the same reference may be resent), and raises only when it cannot tell.
    """

    api_provider: str = ""

    @abc.abstractmethod
    def validate_customer(self, item: CatalogueItemLike, customer_id: str) -> CustomerInfo: ...

    def get_customer_info(self, item: CatalogueItemLike, customer_id: str) -> CustomerInfo:
        return self.validate_customer(item, customer_id)

    @abc.abstractmethod
    def purchase_utility(
        self,
        item: CatalogueItemLike,
        customer_id: str,
        amount_kobo: int,
        reference: str,
        phone: str | None = None,
    ) -> PurchaseResult: ...

    @abc.abstractmethod
    def query_status(self, keys: PurchaseKeys | str, provider_reference: str | None = None) -> PurchaseResult:
        """The purchase's status, asked by the key the provider's status endpoint takes.

        ``keys`` holds every reference the purchase is known by (a bare string is our reference
        alone, as after a purchase that timed out before any answer). "not_found" only when the
        provider's answer is authoritative for that purchase; see each client.
        """

    @abc.abstractmethod
    def get_utility_providers(self) -> list[CatalogueItem]: ...
