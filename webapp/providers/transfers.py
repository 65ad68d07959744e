"""What a payout needs from a payment gateway's transfers API: banks, account resolve, recipients,
sending a transfer and asking what became of it.

Two gateways speak it, Paystack Transfers and Flutterwave Transfers (their clients live in
``paystack_transfers`` and ``flutterwave_transfers``; ``registry.transfer_client`` builds one).
Amounts are int kobo here; each client converts to its gateway's unit at the edge.

The statuses of a transfer, as the payout service reads them:

- ``pending``: the gateway accepted the transfer and has not finished it (Paystack ``pending``,
  ``otp``, ``queued``, ``received``; Flutterwave ``NEW``, ``PENDING``). Ask again later.
- ``success``: the money reached the bank account. Not quite final: a gateway may still reverse a
  transfer the bank sends back, so a later ``reversed`` overrides it.
- ``failed``: the gateway says the transfer did not and will not happen.
- ``reversed``: the transfer was paid and then returned to our balance.
- ``not_found``: authoritative "no record of this reference", from the lookup the gateway
  documents for exactly this transfer. Only then may the same reference be sent again. A lookup
  that cannot be trusted to find a transfer that exists raises ``ProviderError`` (transient)
  rather than answering ``not_found``.

``initiate`` moves money: a timeout, dropped connection, 5xx or an unclear answer raises
``ProviderError`` with ``ErrorClass.OUTCOME_UNKNOWN``, and the payout is requeried, never sent
under a new reference. A reference the gateway already holds is ``duplicate_reference`` with an
unknown outcome too: ask ``verify``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

TransferStatus = Literal["pending", "success", "failed", "reversed", "not_found"]


@dataclass(frozen=True)
class Bank:
    code: str  # the code the gateway's resolve and transfer calls take ("058")
    name: str  # "Guaranty Trust Bank"


@dataclass(frozen=True)
class ResolvedAccount:
    """A bank account the gateway resolved: the name is the bank's, not what anyone typed."""

    account_number: str  # 10-digit NUBAN
    bank_code: str
    account_name: str
    raw: Any = None


@dataclass(frozen=True)
class TransferResult:
    reference: str  # ours
    status: TransferStatus
    provider_id: str | None = None  # Paystack transfer_code ("TRF_..."), Flutterwave transfer id
    amount_kobo: int | None = None
    fee_kobo: int | None = None
    message: str = ""  # the gateway's words on a failure or reversal, redacted
    raw: Any = None


@dataclass(frozen=True)
class TransferHint:
    """What a transfer webhook claims. A hint only: the payout service verifies it with the gateway."""

    reference: str
    status: str  # the gateway's word, lower case; never trusted for money
    event: str
    # The gateway's own id of the transfer (Paystack transfer_code, Flutterwave transfer id): for
    # Flutterwave the only key its status lookup takes, so a webhook is how a payout whose initiate
    # answer was lost learns it.
    provider_id: str | None = None


class TransferClient(Protocol):
    gateway: str  # "paystack" | "flutterwave"

    def list_banks(self) -> list[Bank]:
        """The Nigerian banks the gateway can send to, by name."""

    def resolve_account(self, account_number: str, bank_code: str) -> ResolvedAccount:
        """The account's name at its bank. A number the bank does not know is a permanent
        ``ProviderError`` (``invalid_customer_id``) with a message for the page."""

    def create_recipient(self, account: ResolvedAccount) -> str | None:
        """The gateway's handle for sending to this account (Paystack ``recipient_code``), or None
        when the gateway takes the account details on each transfer (Flutterwave)."""

    def initiate(self, reference: str, amount_kobo: int, account: ResolvedAccount, recipient: str | None,
                 narration: str) -> TransferResult:
        """Send the transfer under our ``reference``. Status ``pending``, ``success`` or ``failed``;
        raises ``ProviderError`` (permanent: refused and nothing sent; transient: not accepted;
        outcome unknown: requery)."""

    def verify(self, reference: str, provider_id: str | None = None) -> TransferResult:
        """The transfer's truth, looked up the way the gateway documents (see each client)."""

    def verify_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """The gateway's signature check on a webhook, constant-time."""

    def transfer_hint(self, body: Mapping[str, Any]) -> TransferHint | None:
        """The transfer this webhook body is about, or None when it is not a transfer event."""
