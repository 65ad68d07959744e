"""The money movements the product makes, each with its fixed idempotency key.

Like ``post_entry`` they flush inside the caller's transaction and the caller commits.
"""
from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Account, EntryKind, JournalEntry
from webapp.providers.http import DISPLAY_NAMES
from webapp.services.ledger.accounts import estate_account, system_account, wallet_account
from webapp.services.ledger.entries import entry_postings, find_entry, post_entry
from webapp.services.ledger.errors import InvalidPostings, NothingToRefund

FUNDING_GATEWAYS = ("paystack", "flutterwave")
BILLS_PROVIDERS = ("flutterwave", "vtpass")
FEES_ACCOUNT = "fees"


def funding_credit_key(reference: str) -> str:
    return f"funding:{reference}:credit"


def payment_debit_key(reference: str) -> str:
    return f"payment:{reference}:debit"


def payment_refund_key(reference: str) -> str:
    return f"payment:{reference}:refund"


def _positive(name: str, value: int) -> None:
    if type(value) is not int or value <= 0:
        raise InvalidPostings(f"{name} must be a positive int of kobo, not {value!r}")


def _reference(reference: str) -> None:
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidPostings("a movement needs its business reference")


def credit_funding(user_id: int, amount_kobo: int, gateway: str, reference: str, *,
                   bank_transfer: bool = False) -> JournalEntry:
    """Credit a verified wallet top-up: the gateway's funding account pays the resident's wallet.

    Keyed ``funding:<reference>:credit`` so the webhook and the browser callback may both call it.
    ``bank_transfer`` says it came by transfer into the resident's virtual account (the memo).
    """
    _positive("amount_kobo", amount_kobo)
    _reference(reference)
    if gateway not in FUNDING_GATEWAYS:
        raise InvalidPostings(f"unknown funding gateway {gateway!r}")
    wallet = wallet_account(user_id)
    funding = system_account(f"funding:{gateway}")
    return post_entry(
        funding_credit_key(reference),
        [(wallet, amount_kobo), (funding, -amount_kobo)],
        kind=EntryKind.FUNDING_CREDIT,
        memo=f"{'Bank transfer' if bank_transfer else 'Wallet funding'} via {DISPLAY_NAMES[gateway]}",
        reference=reference,
    )


def payment_account_ids(user_id: int, provider: str) -> tuple[int, int, int] | None:
    """The ids of the wallet, the provider's clearing account and ``fees`` when all three exist
    (accounts are never deleted), else None. Reads only: a worker looks them up before it takes
    any lock and passes them to ``debit_payment``."""
    return payment_account_ids_for({(user_id, provider)})[(user_id, provider)]


def payment_account_ids_for(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, int, int] | None]:
    """``payment_account_ids`` for many (user id, provider) pairs in two queries."""
    codes = {f"clearing:{provider}" for _, provider in pairs} | {FEES_ACCOUNT}
    system = dict(db.session.execute(select(Account.code, Account.id).where(Account.code.in_(codes))).all())
    wallets = dict(db.session.execute(select(Account.user_id, Account.id)
                                      .where(Account.user_id.in_({user_id for user_id, _ in pairs}))).all())
    found = {}
    for user_id, provider in pairs:
        clearing, fees, wallet = system.get(f"clearing:{provider}"), system.get(FEES_ACCOUNT), wallets.get(user_id)
        found[(user_id, provider)] = None if None in (clearing, fees, wallet) else (wallet, clearing, fees)
    return found


def debit_payment(user_id: int, amount_kobo: int, fee_kobo: int, provider: str, reference: str,
                  account_ids: tuple[int, int, int] | None = None) -> JournalEntry:
    """Take a bill payment (amount + fee) from the wallet before the provider is called.

    The amount goes to the provider's clearing account, the fee to ``fees``. Keyed
    ``payment:<reference>:debit``; raises ``InsufficientFunds`` when the wallet cannot cover both.
    ``account_ids`` (wallet, clearing, fees) from ``payment_account_ids`` saves looking them up.
    """
    _positive("amount_kobo", amount_kobo)
    if type(fee_kobo) is not int or fee_kobo < 0:
        raise InvalidPostings(f"fee_kobo must be a non-negative int of kobo, not {fee_kobo!r}")
    _reference(reference)
    if provider not in BILLS_PROVIDERS:
        raise InvalidPostings(f"unknown bills provider {provider!r}")
    if account_ids is None:
        wallet, clearing = wallet_account(user_id), system_account(f"clearing:{provider}")
        fees = system_account(FEES_ACCOUNT) if fee_kobo else None
    else:
        wallet, clearing, fees = account_ids
    postings = [(wallet, -(amount_kobo + fee_kobo)), (clearing, amount_kobo)]
    if fee_kobo:
        postings.append((fees, fee_kobo))
    return post_entry(
        payment_debit_key(reference),
        postings,
        kind=EntryKind.PAYMENT_DEBIT,
        memo=f"Bill payment via {DISPLAY_NAMES[provider]}",
        reference=reference,
    )


def pay_estate(user_id: int, estate_id: int, amount_kobo: int, reference: str) -> JournalEntry:
    """Pay an estate bill from the resident's wallet into the estate's wallet.

    Keyed ``payment:<reference>:debit`` like a bill payment, so ``refund_payment`` reverses it too
    and the payments module counts one debit per payment whatever it paid for.
    """
    _positive("amount_kobo", amount_kobo)
    _reference(reference)
    return post_entry(
        payment_debit_key(reference),
        [(wallet_account(user_id), -amount_kobo), (estate_account(estate_id), amount_kobo)],
        kind=EntryKind.ESTATE_PAYMENT,
        memo="Estate bill payment",
        reference=reference,
    )


def refund_payment(reference: str) -> JournalEntry:
    """Give back exactly what the payment's debit took: the debit's postings with signs flipped.

    Keyed ``payment:<reference>:refund``, so refunding twice refunds once. Raises
    ``NothingToRefund`` when the payment was never debited.
    """
    _reference(reference)
    debit = find_entry(payment_debit_key(reference))
    if debit is None:
        raise NothingToRefund(reference)
    return post_entry(
        payment_refund_key(reference),
        [(account_id, -amount) for account_id, amount in entry_postings(debit.id)],
        kind=EntryKind.PAYMENT_REFUND,
        memo=f"Refund: {debit.memo}" if debit.memo else "Refund",
        reference=reference,
    )


# -- payouts: the estate wallet to the estate's bank account, through payout clearing ---------------
# Approval moves the amount from the estate wallet into ``payouts:<gateway>`` (clearing) under the
# estate wallet's lock. Exactly one of two things then takes it out of clearing: the transfer
# succeeded (``sent``: clearing → the gateway's funding account, i.e. our balance there shrinks) or it
# failed without going out (``return``: clearing → the estate wallet). A transfer the bank sends back
# after it succeeded is a ``reversal`` (the gateway's funding account → the estate wallet). Each is
# keyed by the payout's reference, so a retried job or a replayed webhook posts it once.
PAYOUT_STEPS = ("debit", "sent", "return", "reversal")


def payout_key(reference: str, step: str) -> str:
    if step not in PAYOUT_STEPS:
        raise InvalidPostings(f"unknown payout step {step!r}")
    return f"payout:{reference}:{step}"


def _payout_accounts(gateway: str) -> tuple[Account, Account]:
    if gateway not in FUNDING_GATEWAYS:
        raise InvalidPostings(f"unknown payout gateway {gateway!r}")
    return system_account(f"payouts:{gateway}"), system_account(f"funding:{gateway}")


def debit_payout(estate_id: int, amount_kobo: int, gateway: str, reference: str) -> JournalEntry:
    """Take an approved payout out of the estate wallet into payout clearing (``InsufficientFunds``
    when the wallet cannot cover it; the wallet is locked until the caller commits)."""
    _positive("amount_kobo", amount_kobo)
    _reference(reference)
    clearing, _funding = _payout_accounts(gateway)
    return post_entry(payout_key(reference, "debit"),
                      [(estate_account(estate_id), -amount_kobo), (clearing, amount_kobo)],
                      kind=EntryKind.PAYOUT_DEBIT, memo=f"Payout to the estate's bank via {DISPLAY_NAMES[gateway]}",
                      reference=reference)


def _debited(reference: str) -> tuple[JournalEntry, int, int, int]:
    """The payout's debit and its (estate wallet, clearing, amount)."""
    debit = find_entry(payout_key(reference, "debit"))
    if debit is None:
        raise NothingToRefund(reference)
    (first, first_amount), (second, second_amount) = entry_postings(debit.id)
    estate_id, clearing_id = (first, second) if first_amount < 0 else (second, first)
    return debit, estate_id, clearing_id, abs(first_amount)


def _refuse_both(reference: str, step: str, other: str) -> None:
    if find_entry(payout_key(reference, other)) is not None:
        raise InvalidPostings(f"payout {reference} already has its {other}; it cannot also have a {step}")


def send_payout(reference: str, gateway: str) -> JournalEntry:
    """The transfer succeeded: the amount leaves clearing through the gateway."""
    _refuse_both(reference, "sent", "return")
    _debit, _estate, clearing_id, amount = _debited(reference)
    _clearing, funding = _payout_accounts(gateway)
    return post_entry(payout_key(reference, "sent"), [(clearing_id, -amount), (funding, amount)],
                      kind=EntryKind.PAYOUT_SENT, memo=f"Payout sent via {DISPLAY_NAMES[gateway]}", reference=reference)


def return_payout(reference: str) -> JournalEntry:
    """The transfer failed (or never went): the amount goes back from clearing to the estate wallet."""
    _refuse_both(reference, "return", "sent")
    _debit, estate_id, clearing_id, amount = _debited(reference)
    return post_entry(payout_key(reference, "return"), [(clearing_id, -amount), (estate_id, amount)],
                      kind=EntryKind.PAYOUT_RETURN, memo="Payout failed: returned to the estate wallet",
                      reference=reference)


def reverse_payout(reference: str, gateway: str) -> JournalEntry:
    """A transfer that succeeded came back from the bank: the gateway's account pays the estate back."""
    if find_entry(payout_key(reference, "sent")) is None:
        raise InvalidPostings(f"payout {reference} was never sent, so it cannot be reversed")
    _debit, estate_id, _clearing, amount = _debited(reference)
    _clearing_account, funding = _payout_accounts(gateway)
    return post_entry(payout_key(reference, "reversal"), [(funding, -amount), (estate_id, amount)],
                      kind=EntryKind.PAYOUT_REVERSAL, memo="Payout reversed by the bank: returned to the estate wallet",
                      reference=reference)
