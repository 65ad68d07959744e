"""The double-entry wallet ledger: the only code that moves money.

Use it as ``from webapp.services import ledger; ledger.post_entry(...)``. Every function that
writes flushes inside the caller's transaction and leaves the commit to the caller, so a payment's
status change and its money movement commit together.
"""
from webapp.services.ledger.accounts import (
    balance,
    estate_account,
    estate_balance,
    system_account,
    wallet_account,
    wallet_balance,
    wallet_balances,
)
from webapp.services.ledger.bulk import Debit, debit_payments
from webapp.services.ledger.entries import entry_postings, find_entry, lock_estate_wallet, lock_wallets, post_entry
from webapp.services.ledger.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidPostings,
    LedgerError,
    NothingToRefund,
    SpendingCapReached,
    UnknownAccount,
)
from webapp.services.ledger.invariants import check_invariants, ledger_counts, register_invariant, registered_invariants
from webapp.services.ledger.movements import (
    credit_funding,
    debit_payment,
    debit_payout,
    funding_credit_key,
    pay_estate,
    payment_account_ids,
    payment_account_ids_for,
    payment_debit_key,
    payment_refund_key,
    payout_key,
    refund_payment,
    return_payout,
    reverse_payout,
    send_payout,
)
from webapp.services.ledger.rollup import pending_postings, roll_up
from webapp.services.ledger.statements import StatementLine, statement

__all__ = [
    "Debit",
    "IdempotencyConflict",
    "InsufficientFunds",
    "SpendingCapReached",
    "InvalidPostings",
    "LedgerError",
    "NothingToRefund",
    "StatementLine",
    "UnknownAccount",
    "balance",
    "check_invariants",
    "credit_funding",
    "debit_payment",
    "debit_payments",
    "debit_payout",
    "entry_postings",
    "estate_account",
    "estate_balance",
    "find_entry",
    "funding_credit_key",
    "ledger_counts",
    "lock_estate_wallet",
    "lock_wallets",
    "pay_estate",
    "pending_postings",
    "payment_account_ids",
    "payment_account_ids_for",
    "payment_debit_key",
    "payment_refund_key",
    "payout_key",
    "post_entry",
    "refund_payment",
    "return_payout",
    "reverse_payout",
    "send_payout",
    "register_invariant",
    "registered_invariants",
    "roll_up",
    "statement",
    "system_account",
    "wallet_account",
    "wallet_balance",
    "wallet_balances",
]
