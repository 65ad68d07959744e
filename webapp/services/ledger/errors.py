"""Why the ledger refused a movement."""
from __future__ import annotations


class LedgerError(Exception):
    """A movement the ledger will not post. Nothing was written when this is raised."""


class InvalidPostings(LedgerError, ValueError):
    """The postings do not describe a balanced movement of whole kobo (a programming error)."""


class UnknownAccount(LedgerError, LookupError):
    """A posting or lookup names an account, user or estate that does not exist."""


class IdempotencyConflict(LedgerError):
    """An idempotency key already belongs to a different movement: a key was reused by mistake."""

    def __init__(self, idempotency_key: str):
        super().__init__(f"idempotency key {idempotency_key!r} already names a different movement")
        self.idempotency_key = idempotency_key


class NothingToRefund(LedgerError, LookupError):
    """A refund was asked for a payment reference that was never debited."""

    def __init__(self, reference: str):
        super().__init__(f"payment {reference!r} has no debit to refund")
        self.reference = reference


class InsufficientFunds(LedgerError):
    """The movement would take a wallet below zero."""

    def __init__(self, account_id: int, available_kobo: int, requested_kobo: int):
        super().__init__(
            f"account {account_id} has {available_kobo} kobo available; {requested_kobo} kobo requested"
        )
        self.account_id = account_id
        self.available_kobo = available_kobo
        self.requested_kobo = requested_kobo


class SpendingCapReached(LedgerError):
    """The movement is more than what is left of a spending cap the caller set on the wallet (a
    household payer's monthly limit): nothing was written for it."""

    def __init__(self, cap_key, remaining_kobo: int, requested_kobo: int):
        super().__init__(f"cap {cap_key!r} has {remaining_kobo} kobo left; {requested_kobo} kobo requested")
        self.cap_key = cap_key
        self.remaining_kobo = remaining_kobo
        self.requested_kobo = requested_kobo
