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
import re
import time
from dataclasses import dataclass

from webapp.sandbox import customers
from webapp.sandbox.catalogue import Product
from webapp.sandbox.customers import Customer
from webapp.sandbox.state import Attempt, BillTxn, Seconds, State
from webapp.sandbox.wire import LAGOS

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
        txn.units = customers.units_for(txn.amount_kobo)
        if customer.scenario == customers.TOKEN_ON_SECOND_CHECK:
            txn.token_after_queries = txn.status_queries + 2
        elif customer.scenario != customers.TOKEN_NOT_COMING:
            txn.token = customers.token_for(txn.reference)
        if customer.scenario == customers.KEY_CHANGE:
            txn.key_change_tokens = customers.key_change_tokens_for(txn.reference)


def _late_token(txn: BillTxn) -> None:
    """A token that comes later is there once enough status checks were made."""
    if txn.token is None and txn.token_after_queries is not None and txn.status_queries >= txn.token_after_queries:
        txn.token = customers.token_for(txn.reference)


_DATED = re.compile(r"^\d{12}(?P<core>.+?)(?:R\d+)?$")


def script_key(provider: str, reference: str) -> tuple[str, str]:
    """Which purchase a call belongs to, for the per-reference scripts of the test numbers.

    A VTpass purchase sent again on a later Lagos day goes out under a new request_id made of the
    new date, the first request_id's suffix and ``R<attempt>`` (see the app's lifecycle): the
    scripts treat those as one purchase, so "the first call times out" stays the first call.
    """
    if provider == "vtpass":
        match = _DATED.match(reference)
        if match:
            return provider, match.group("core")
    return provider, reference


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
             phone: str | None = None, duplicate_window: Seconds = 0.0, callback_url: str | None = None) -> Outcome:
    customer = customers.lookup(number)
    knobs = state.knobs
    with state.lock:
        key = (provider, reference)
        if key in state.bills:
            return Outcome("duplicate", state.bills[key])
        attempt = state.attempts.setdefault(script_key(provider, reference), Attempt(customer=customer.number))
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
        txn.callback_url = callback_url
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


def resolve_reference(state: State, provider: str, given: str, *, own_refs_only: bool = False) -> str | None:
    """Our reference for ``given``: the provider's own reference (tx_ref / flw_ref), or, unless
    ``own_refs_only``, our reference itself. None when nothing is known by ``given``."""
    with state.lock:
        if (provider, given) in state.bill_aliases:
            return state.bill_aliases[(provider, given)]
        if own_refs_only:
            return None
        return given


def query(state: State, provider: str, given_reference: str, *, own_refs_only: bool = False) -> Outcome:
    """Status of a purchase: the provider's truth, subject to the per-reference scripts and faults.

    Flutterwave's status path takes its own tx_ref (``own_refs_only``): asked by our reference it
    answers "not found" even for a bill it has, as a status lookup by the wrong key does.
    """
    with state.lock:
        reference = resolve_reference(state, provider, given_reference, own_refs_only=own_refs_only)
        if reference is None:
            return Outcome("not_found")
        key = (provider, reference)
        attempt = state.attempts.get(script_key(provider, reference))
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
        _late_token(txn)
        return Outcome(txn.status, txn)


def listing(state: State, provider: str, start, end) -> list[BillTxn]:
    """The provider's bills whose Lagos date falls within [start, end] (dates), oldest first."""
    with state.lock:
        return sorted((t for (p, _r), t in state.bills.items()
                       if p == provider and start <= t.created_at.astimezone(LAGOS).date() <= end),
                      key=lambda t: (t.created_at, t.reference))


def processed_count(state: State, provider: str, references) -> int:
    """How many purchases the provider processed (recorded and not failed) under these references."""
    with state.lock:
        return sum(1 for r in references
                   if (t := state.bills.get((provider, r))) is not None and t.status != "failed")


DISAGREEMENTS = ("succeeded", "failed", "missing", "amount")


def disagree(state: State, provider: str, reference: str, how: str, amount_kobo: int | None = None) -> BillTxn | None:
    """Make the provider's record disagree with ours (a reconciliation knob): say it succeeded or
    failed, forget it, or change its amount. Returns the record (None once forgotten)."""
    with state.lock:
        txn = state.bills.get((provider, reference))
        if txn is None:
            raise KeyError(reference)
        if how == "succeeded":
            txn.status, txn.message = "successful", "Transaction successful"
        elif how == "failed":
            txn.status, txn.message = "failed", "Transaction failed"
        elif how == "missing":
            del state.bills[(provider, reference)]
            return None
        elif how == "amount":
            txn.amount_kobo = amount_kobo if amount_kobo is not None else txn.amount_kobo + 100_00
        else:
            raise ValueError(f"unknown disagreement {how!r}; known: {', '.join(DISAGREEMENTS)}")
        return txn
