"""The gateway-neutral transfers (payouts) engine: banks, account names, transfers and their settling.

Paystack and Flutterwave render this truth in their own formats (``paystack_transfers.py``,
``flutterwave_transfers.py``). Decisions and changes happen here under the state lock; holding a
"timeout" and delivering webhooks happen outside it.

A transfer is created ``pending`` and settles to its scripted outcome at its first status check
once ``transfer_settle_seconds`` have passed since it was created, or in the background at that
time when ``transfer_webhooks`` is on. Each change of status is announced once, through the
gateway's ``announce(txn, status)``, which signs and delivers its webhook. A reversed transfer
shows ``success`` first and ``reversed`` at the next step.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from webapp.sandbox.state import Seconds, State, TransferTxn

# Real Nigerian banks and their CBN codes, which both gateways' bank lists use for these banks
# (Paystack: PaystackOSS/doc-code-snippets src/api/transfers/verify/response.json, "044" Access
# Bank; Flutterwave: Flutterwave/Node-v3 documentation/banks.md, "011" First Bank of Nigeria).
BANKS = (
    ("044", "Access Bank"),
    ("023", "Citibank Nigeria"),
    ("070", "Fidelity Bank"),
    ("011", "First Bank of Nigeria"),
    ("214", "First City Monument Bank"),
    ("058", "Guaranty Trust Bank"),
    ("221", "Stanbic IBTC Bank"),
    ("232", "Sterling Bank"),
    ("033", "United Bank For Africa"),
    ("035", "Wema Bank"),
    ("057", "Zenith Bank"),
)
BANK_NAMES = dict(BANKS)

SUCCEEDS = "success"
FAILS = "failed"
REVERSED_LATER = "reversed"
HELD_PROCESSED = "held_processed"  # processed, the answer held timeout_hold s, then the connection closed
HELD_UNRECORDED = "held_unrecorded"  # first initiate per reference held and closed, nothing recorded

# The test accounts (any listed bank code), the same on both gateways: name at the bank, script.
ACCOUNTS = {
    "0690000031": ("ADEBOLA ESTATE SERVICES LTD", SUCCEEDS),
    "0690000032": ("OKONKWO FACILITY MGT", FAILS),
    "0690000033": ("IBRAHIM & SONS PROPERTY", REVERSED_LATER),
    "0690000034": ("ZENITH COURT RESIDENTS ASSOC", HELD_PROCESSED),
    "0690000035": ("PALM GROVE ESTATE", HELD_UNRECORDED),
}
FAILURE_MESSAGE = "Beneficiary account is dormant: the receiving bank declined the credit"
REVERSAL_MESSAGE = "Transfer reversed: the receiving bank returned the funds"


@dataclass(frozen=True)
class Resolution:
    kind: str  # "ok" | "unknown" (10 digits the bank does not know) | "invalid" (not 10 digits) | "bank"
    name: str = ""


def resolve(account_number: str, bank_code: str) -> Resolution:
    number = str(account_number or "").strip()
    if not (len(number) == 10 and number.isdigit()):
        return Resolution("invalid")
    if str(bank_code or "").strip() not in BANK_NAMES:
        return Resolution("bank")
    known = ACCOUNTS.get(number)
    return Resolution("ok", known[0]) if known else Resolution("unknown")


@dataclass
class Outcome:
    kind: str  # created | duplicate | drop | unavailable | rate_limited
    txn: TransferTxn | None = None
    hold: Seconds = 0.0


def _script(account_number: str) -> str:
    return ACCOUNTS.get(account_number, ("", SUCCEEDS))[1]


def initiate(state: State, gateway: str, reference: str, *, amount_kobo: int, fee_kobo: int, account_number: str,
             bank_code: str, narration: str, recipient_code: str | None = None,
             callback_url: str | None = None) -> Outcome:
    """Record a transfer the caller has validated, following the test accounts' scripts and faults."""
    script = _script(account_number)
    with state.lock:
        key = (gateway, reference)
        if key in state.transfers:
            return Outcome("duplicate", state.transfers[key])
        n = state.count_call("transfer", gateway, reference)
        if script == HELD_UNRECORDED and n == 1:
            return Outcome("drop", hold=state.knobs.timeout_hold)
        fault = state.roll_fault(gateway, "purchase", reference, n) if script == SUCCEEDS else None
        if fault in ("unavailable", "not_processed"):
            return Outcome("unavailable")
        if fault == "rate_limited":
            return Outcome("rate_limited")
        if fault in ("timeout_unprocessed", "dropped_unprocessed"):
            return Outcome("drop", hold=state.knobs.timeout_hold if fault.startswith("timeout") else 0.0)
        digest = hashlib.sha256(f"{gateway}:{reference}".encode()).hexdigest()
        outcome = {FAILS: "failed", REVERSED_LATER: "reversed"}.get(script, "success")
        txn = TransferTxn(gateway=gateway, reference=reference, id=state.next_id(), code=f"TRF_{digest[:16]}",
                          amount_kobo=amount_kobo, fee_kobo=fee_kobo, account_number=account_number,
                          bank_code=bank_code, account_name=resolve(account_number, bank_code).name,
                          narration=narration, outcome=outcome, recipient_code=recipient_code,
                          callback_url=callback_url)
        state.transfers[key] = txn
        state.transfers_by_id[txn.id] = txn
        if script == HELD_PROCESSED or fault == "timeout_processed":
            return Outcome("drop", txn, hold=state.knobs.timeout_hold)
        if fault == "dropped_processed":
            return Outcome("drop", txn)
        return Outcome("created", txn)


def get(state: State, gateway: str, reference: str) -> TransferTxn | None:
    with state.lock:
        return state.transfers.get((gateway, reference))


def get_by_id(state: State, gateway: str, txn_id: int) -> TransferTxn | None:
    with state.lock:
        txn = state.transfers_by_id.get(txn_id)
        return txn if txn is not None and txn.gateway == gateway else None


def status_fault(state: State, txn: TransferTxn | None, gateway: str, reference: str) -> Outcome | None:
    """A fault for a status call (never changes the truth), for the plainly succeeding account only."""
    if txn is None or _script(txn.account_number) != SUCCEEDS:
        return None
    fault = state.roll_fault(gateway, "status", reference, state.count_call("transfer-status", gateway, reference))
    if fault in ("unavailable", "rate_limited"):
        return Outcome(fault)
    if fault in ("timeout", "dropped"):
        return Outcome("drop", hold=state.knobs.timeout_hold if fault == "timeout" else 0.0)
    return None


def _step(state: State, txn: TransferTxn) -> str | None:
    """Move the transfer one step towards its outcome if it is due; the new status, or None."""
    with state.lock:
        now = datetime.now(UTC)
        if txn.status == "pending":
            if (now - txn.created_at).total_seconds() < state.knobs.transfer_settle_seconds:
                return None
            txn.status = "failed" if txn.outcome == "failed" else "success"
            txn.message = FAILURE_MESSAGE if txn.status == "failed" else ""
            txn.settled_at = now
            return txn.status
        if txn.status == "success" and txn.outcome == "reversed":
            return _reverse(txn, now)
        return None


def _reverse(txn: TransferTxn, now: datetime) -> str:
    txn.status, txn.message, txn.reversed_at, txn.outcome = "reversed", REVERSAL_MESSAGE, now, "reversed"
    return "reversed"


Announce = Callable[[TransferTxn, str], object]
_announcing: dict[tuple[int, str, str], threading.Lock] = {}
_announcing_guard = threading.Lock()


def _announce_lock(state: State, txn: TransferTxn) -> threading.Lock:
    with _announcing_guard:
        return _announcing.setdefault((id(state), txn.gateway, txn.reference), threading.Lock())


def _step_and_announce(state: State, txn: TransferTxn, announce: Announce) -> str | None:
    """One step, its webhook delivered before any later step's (so success always comes first)."""
    with _announce_lock(state, txn):
        status = _step(state, txn)
        if status is not None and state.knobs.transfer_webhooks:
            announce(txn, status)
        return status


def check(state: State, txn: TransferTxn, announce: Announce) -> None:
    """A status check: settle the transfer if it is due (its webhook goes out in the background)."""
    with state.lock:
        due = txn.status == "pending" or (txn.status == "success" and txn.outcome == "reversed")
    if not due:
        return
    if not state.knobs.transfer_webhooks:
        _step(state, txn)
        return
    done = threading.Event()

    def step_now():
        with _announce_lock(state, txn):
            status = _step(state, txn)
            done.set()
            if status is not None:
                announce(txn, status)

    threading.Thread(target=step_now, daemon=True, name=f"transfer-check-{txn.reference}").start()
    done.wait(5.0)  # the answer shows the new status; the webhook may still be on its way


def settle_in_background(state: State, txn: TransferTxn, announce: Announce) -> None:
    """With webhooks on: settle once due, announcing success (then the reversal) or the failure."""
    if not state.knobs.transfer_webhooks:
        return

    def run():
        wait = state.knobs.transfer_settle_seconds - (datetime.now(UTC) - txn.created_at).total_seconds()
        if wait > 0:
            time.sleep(wait)
        while _step_and_announce(state, txn, announce) is not None:
            pass

    threading.Thread(target=run, daemon=True, name=f"transfer-settle-{txn.reference}").start()


def reverse(state: State, gateway: str, reference: str, announce: Announce) -> TransferTxn:
    """Reverse a successful transfer now (the control endpoint) and announce it unless webhooks are off.

    Raises KeyError for an unknown transfer and ValueError for one that is not successful."""
    txn = get(state, gateway, reference)
    if txn is None:
        raise KeyError(reference)
    with _announce_lock(state, txn):
        with state.lock:
            if txn.status != "success":
                raise ValueError(f"transfer {reference} is {txn.status}, not success")
            _reverse(txn, datetime.now(UTC))
        if state.knobs.transfer_webhooks:
            announce(txn, "reversed")
    return txn
