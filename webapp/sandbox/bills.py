"""The provider-neutral bills engine: validation, purchase and status truth for both bill providers.

The wire modules (flutterwave.py, vtpass.py) parse requests, call these functions and render the
``Outcome`` in their own format. Every decision and state change happens here under the state lock;
holding a "timeout" happens later in the view, after the lock is released.

Order of checks on a purchase: duplicate reference, the 4000000000000 script (503 for the first 3
calls), amount bounds, customer validity, the 3000000000001 script (first call held, no record),
random faults, merchant balance, VTpass likely-duplicate window, then processing.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from . import customers
from .catalogue import Product
from .customers import Customer
from .state import Attempt, BillTxn, Seconds, State

BLOCKED_MESSAGE = "Meter blocked: the distribution company has blocked vending to this meter"


@dataclass
class Outcome:
    kind: str  # successful | pending | failed | duplicate | unavailable | rate_limited | not_processed
    #           | drop | not_found | rejected
    txn: BillTxn | None = None
    hold: Seconds = 0.0  # for "drop": seconds to hold before closing the connection
    reason: str = ""  # for "rejected": amount_below | amount_above | customer | low_balance | likely_duplicate


def validate(product: Product, number) -> Customer:
    """The customer behind ``number`` (``.is_valid`` says whether validation succeeds)."""
    return customers.lookup(number)


def _provider_ref(provider: str, reference: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"{provider}:{reference}".encode()).hexdigest()
    if provider == "flutterwave":
        return f"CF-FLYAPI-{int(digest[:12], 16) % 10**14:014d}", f"BPUSSD{int(digest[12:24], 16) % 10**13:013d}"
    return f"{int(digest[:16], 16) % 10**20:020d}", ""


def _new_txn(provider: str, reference: str, product: Product, customer: Customer, amount_kobo: int,
             phone: str | None, status: str, message: str) -> BillTxn:
    provider_ref, flw_ref = _provider_ref(provider, reference)
    return BillTxn(provider=provider, reference=reference, provider_ref=provider_ref, flw_ref=flw_ref,
                   product=product, customer=customer.number, amount_kobo=amount_kobo, fee_kobo=product.fee_kobo,
                   phone=phone, status=status, message=message)


def _succeed(txn: BillTxn, customer: Customer) -> None:
    txn.status = "successful"
    txn.message = "Transaction successful"
    if customers.gets_token(customer, txn.product):
        txn.token = customers.token_for(txn.reference)
        txn.units = customers.units_for(txn.amount_kobo)


def _store(state: State, txn: BillTxn) -> None:
    state.bills[(txn.provider, txn.reference)] = txn
    for alias in (txn.provider_ref, txn.flw_ref):
        if alias:
            state.bill_aliases[(txn.provider, alias)] = txn.reference


def record_failure(state: State, provider: str, reference: str, product: Product, number, amount_kobo: int,
                   phone: str | None, message: str) -> BillTxn:
    """Keep a failed transaction (VTpass records a vend it refused for an invalid customer)."""
    with state.lock:
        txn = _new_txn(provider, reference, product, customers.lookup(number), amount_kobo, phone, "failed", message)
        _store(state, txn)
        return txn


def purchase(state: State, provider: str, reference: str, product: Product, number, amount_kobo: int,
             phone: str | None = None, duplicate_window: Seconds = 0.0) -> Outcome:
    customer = customers.lookup(number)
    knobs = state.knobs
    with state.lock:
        key = (provider, reference)
        if key in state.bills:
            return Outcome("duplicate", state.bills[key])
        attempt = state.attempts.setdefault(key, Attempt(customer=customer.number))
        attempt.calls += 1
        attempt.purchases += 1
        if customer.scenario == customers.UNAVAILABLE_FIRST_3 and attempt.calls <= 3:
            return Outcome("unavailable")
        problem = product.amount_problem(amount_kobo)
        if problem:
            return Outcome("rejected", reason=f"amount_{problem}")
        if not customer.is_valid:
            return Outcome("rejected", reason="customer")
        if customer.scenario == customers.TIMEOUT_FIRST_UNPROCESSED and attempt.purchases == 1:
            return Outcome("drop", hold=knobs.timeout_hold)
        fault = None
        if customer.scenario in customers.FAULT_ELIGIBLE:
            fault = state.roll_fault(provider, "purchase", reference, attempt.purchases)
        if fault in ("unavailable", "rate_limited", "not_processed"):
            return Outcome(fault)
        if fault in ("timeout_unprocessed", "dropped_unprocessed"):
            return Outcome("drop", hold=knobs.timeout_hold if fault.startswith("timeout") else 0.0)
        if knobs.merchant_balance_kobo is not None and \
                state.balance_spent_kobo + amount_kobo + product.fee_kobo > knobs.merchant_balance_kobo:
            return Outcome("rejected", reason="low_balance")
        recent_key = (provider, product.vt_service_id, customer.number)
        now = time.monotonic()
        if duplicate_window > 0 and now - state.recent_purchases.get(recent_key, -1e9) < duplicate_window:
            return Outcome("rejected", reason="likely_duplicate")

        txn = _new_txn(provider, reference, product, customer, amount_kobo, phone, "pending", "Transaction pending")
        if customer.scenario == customers.BLOCKED:
            txn.status, txn.message = "failed", BLOCKED_MESSAGE
        elif customer.scenario == customers.PENDING:
            txn.pending_queries_left = 2
        elif fault == "pending":
            txn.pending_queries_left = 1
        else:
            _succeed(txn, customer)
        _store(state, txn)
        if txn.status != "failed":
            state.balance_spent_kobo += amount_kobo + product.fee_kobo
            state.recent_purchases[recent_key] = now
        if customer.scenario == customers.TIMEOUT_AFTER_PROCESSING or fault == "timeout_processed":
            return Outcome("drop", txn, hold=knobs.timeout_hold)
        if fault == "dropped_processed":
            return Outcome("drop", txn)
        return Outcome(txn.status, txn)


def resolve_reference(state: State, provider: str, given: str) -> str:
    """Our reference for ``given``, which may be ours or the provider's own (tx_ref / flw_ref)."""
    with state.lock:
        if (provider, given) in state.bills or (provider, given) in state.attempts:
            return given
        return state.bill_aliases.get((provider, given), given)


def query(state: State, provider: str, given_reference: str) -> Outcome:
    """Status of a purchase: the provider's truth, subject to the per-reference scripts and faults."""
    with state.lock:
        reference = resolve_reference(state, provider, given_reference)
        key = (provider, reference)
        attempt = state.attempts.get(key)
        if attempt is not None:
            attempt.calls += 1
            attempt.queries += 1
            scenario = customers.lookup(attempt.customer).scenario
            if scenario == customers.UNAVAILABLE_FIRST_3 and attempt.calls <= 3:
                return Outcome("unavailable")
            if scenario in customers.FAULT_ELIGIBLE:
                fault = state.roll_fault(provider, "status", reference, attempt.queries)
                if fault in ("unavailable", "rate_limited"):
                    return Outcome(fault)
                if fault in ("timeout", "dropped"):
                    return Outcome("drop", hold=state.knobs.timeout_hold if fault == "timeout" else 0.0)
        txn = state.bills.get(key)
        if txn is None:
            return Outcome("not_found")
        txn.status_queries += 1
        if txn.status == "pending":
            txn.pending_queries_left -= 1
            if txn.pending_queries_left <= 0:
                _succeed(txn, customers.lookup(txn.customer))
        return Outcome(txn.status, txn)
