"""In-memory state of the sandbox: knobs, bill transactions, funding transactions, call counters.

One ``State`` per sandbox app, guarded by one re-entrant lock. Callers decide and mutate under the
lock and never sleep while holding it, so a held ("timeout") request never blocks other requests.
Fault decisions are a pure function of (seed, provider, operation, reference, call number), so a
run with the same seed and references replays exactly, whatever the thread interleaving.
"""
from __future__ import annotations

import itertools
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta

# Faults a bill purchase call can suffer (the fault_rate knob picks one of the allowed kinds).
FAULT_KINDS = (
    "timeout_processed",  # processed, then held and the connection closed
    "timeout_unprocessed",  # held and closed, nothing recorded
    "dropped_processed",  # processed, connection closed at once
    "dropped_unprocessed",  # connection closed at once, nothing recorded
    "unavailable",  # HTTP 503, nothing recorded
    "rate_limited",  # HTTP 429, nothing recorded
    "not_processed",  # VTpass code 091 (Flutterwave: 503), nothing recorded
    "pending",  # recorded as pending; the next status query resolves it
)
# What each purchase fault becomes on a status call (status calls never change the truth).
STATUS_FAULTS = {
    "timeout_processed": "timeout", "timeout_unprocessed": "timeout",
    "dropped_processed": "dropped", "dropped_unprocessed": "dropped",
    "unavailable": "unavailable", "rate_limited": "rate_limited",
}


# Knob units (none of them is money: amounts are integer kobo everywhere in the sandbox).
Seconds = float
Hours = float
Probability = float


class KnobError(ValueError):
    """A knob value the sandbox cannot use."""


def _number(value, name: str, low: int | Seconds = 0.0, high: Probability | None = None):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise KnobError(f"{name} must be a number")
    try:
        number = type(low)(value)
    except (TypeError, ValueError) as exc:
        raise KnobError(f"{name} must be a number") from exc
    if number < low or (high is not None and number > high):
        raise KnobError(f"{name} must be between {low} and {high}" if high is not None else f"{name} must be >= {low}")
    return number


@dataclass
class Knobs:
    latency: Seconds = 0.0  # seconds added to every provider API call
    fault_rate: Probability = 0.0  # 0..1 probability of a fault on purchase/status/funding API calls
    seed: int = 0
    timeout_hold: Seconds = 30.0  # seconds held before closing the connection on a "timeout"
    webhook_base: str | None = None  # default: origin of the checkout's callback/redirect URL
    webhook_timeout: Seconds = 3.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    request_id_window_hours: Hours | None = 24.0  # VTpass request_id date tolerance (None: no window)
    duplicate_window: Seconds = 30.0  # VTpass 019 window in seconds (0: off)
    merchant_balance_kobo: int | None = None  # None: unlimited; else purchases beyond it fail (018)
    # VTpass refuses (085) a request_id whose first 8 characters are not today's date in Lagos
    # (vtpass.com/documentation/buying-services); False falls back to request_id_window_hours.
    request_id_today_only: bool = True
    clock_offset_seconds: Seconds = 0.0  # the sandbox's "now" is the real time plus this (midnight tests)
    # Flutterwave GET /bills listing: whether it lists each bill (our reading, used for lookups) or
    # only the summary its published sample shows.
    flw_listing_items: bool = True
    bill_webhooks: bool = True  # send Flutterwave's singlebillpayment.status to the callback_url
    bill_webhook_delay: Seconds = 0.2
    # Termii: where its delivery reports go (the webhook URL one sets in Termii's console; None:
    # reports are recorded, never sent) and how long after a send.
    termii_webhook_url: str | None = None
    termii_report_delay: Seconds = 0.2
    # Transfers (payouts): a transfer stays pending until this many seconds after it was created,
    # then settles at its next status check or in the background; settling sends the gateway's
    # signed transfer webhook unless transfer_webhooks is off.
    transfer_settle_seconds: Seconds = 0.0
    transfer_webhooks: bool = True

    def update(self, changes: dict) -> None:
        """Validate every change first, then apply them all (all or nothing)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise KnobError(f"unknown knob(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        parsed = {name: self._parse(name, value) for name, value in changes.items()}
        for name, value in parsed.items():
            setattr(self, name, value)

    @staticmethod
    def _parse(name: str, value):
        if name in ("latency", "timeout_hold", "webhook_timeout", "duplicate_window", "bill_webhook_delay",
                    "termii_report_delay", "transfer_settle_seconds"):
            return _number(value, name, 0.0)
        if name == "clock_offset_seconds":
            return _number(value, name, -1e9)
        if name in ("request_id_today_only", "flw_listing_items", "bill_webhooks", "transfer_webhooks"):
            if not isinstance(value, bool):
                raise KnobError(f"{name} must be true or false")
            return value
        if name == "fault_rate":
            return _number(value, name, 0.0, 1.0)
        if name == "seed":
            return _number(value, name, 0)
        if name in ("request_id_window_hours", "merchant_balance_kobo"):
            if value is None:
                return None
            return _number(value, name, 0.0 if name == "request_id_window_hours" else 0)
        if name in ("webhook_base", "termii_webhook_url"):
            if value in (None, ""):
                return None
            if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
                raise KnobError(f"{name} must be an http(s) URL")
            return value.rstrip("/")
        if name == "fault_kinds":
            kinds = (value,) if isinstance(value, str) else tuple(value or ())
            bad = [k for k in kinds if k not in FAULT_KINDS]
            if bad:
                raise KnobError(f"unknown fault kind(s) {bad}; known: {list(FAULT_KINDS)}")
            return kinds
        raise KnobError(f"unknown knob {name}")  # pragma: no cover - update() filters names

    def as_dict(self) -> dict:
        data = asdict(self)
        data["fault_kinds"] = list(self.fault_kinds)
        return data


@dataclass
class BillTxn:
    provider: str
    reference: str  # ours (Flutterwave "reference", VTpass request_id)
    provider_ref: str  # Flutterwave tx_ref / VTpass transactionId
    flw_ref: str
    product: object
    customer: str
    amount_kobo: int
    fee_kobo: int
    phone: str | None
    status: str  # "successful" | "pending" | "failed"
    message: str
    token: str | None = None
    units: str | None = None
    key_change_tokens: tuple[str, ...] = ()  # KCT1, KCT2 for a meter that must take new keys first
    pending_queries_left: int = 0
    status_queries: int = 0
    token_after_queries: int | None = None  # the token appears once this many status checks were made
    callback_url: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "product"}
        data["created_at"] = self.created_at.isoformat()
        data["item"] = {"flw_item_code": self.product.flw_item_code, "vt_service_id": self.product.vt_service_id,
                        "vt_variation_code": self.product.vt_variation_code, "name": self.product.name}
        return data


@dataclass
class Attempt:
    """Calls seen for one (provider, reference), recorded or not: drives the per-reference scripts."""
    customer: str
    calls: int = 0  # purchase + status calls
    purchases: int = 0
    queries: int = 0


@dataclass
class FundingTxn:
    gateway: str  # "paystack" | "flutterwave"
    reference: str
    id: int
    amount_kobo: int
    currency: str
    email: str
    customer_name: str | None
    phone: str | None
    callback_url: str | None
    kind: str = "checkout"  # "checkout" | "charge_authorization" | "transfer" (into a dedicated account)
    status: str = "pending"  # neutral: pending | success | failed | abandoned
    access_code: str = ""
    flw_ref: str = ""
    authorization: dict | None = None
    metadata: object = None
    # A transfer's Paystack customer (the dedicated account's owner) and the account it went to.
    customer: dict | None = None
    receiver: dict | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    paid_at: datetime | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["paid_at"] = self.paid_at.isoformat() if self.paid_at else None
        return data


@dataclass
class TransferTxn:
    """A transfer (payout) from the merchant balance to a bank account, in gateway-neutral words."""
    gateway: str  # "paystack" | "flutterwave"
    reference: str  # ours
    id: int  # the gateway's numeric id (Flutterwave's key for GET /transfers/<id>)
    code: str  # Paystack transfer_code "TRF_..." (Flutterwave has none)
    amount_kobo: int
    fee_kobo: int
    account_number: str
    bank_code: str
    account_name: str
    narration: str
    outcome: str  # what it settles to: "success" | "failed" | "reversed" (success, then reversed)
    status: str = "pending"  # pending | success | failed | reversed
    message: str = ""  # the gateway's words on a failure or reversal
    recipient_code: str | None = None  # Paystack
    callback_url: str | None = None  # Flutterwave
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    settled_at: datetime | None = None
    reversed_at: datetime | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("created_at", "settled_at", "reversed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


class State:
    def __init__(self, knobs: Knobs | None = None):
        self.lock = threading.RLock()
        self.knobs = knobs or Knobs()
        self._ids = itertools.count(7_000_001)  # never reset: ids stay unique for the process
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.bills: dict[tuple[str, str], BillTxn] = {}
            self.bill_aliases: dict[tuple[str, str], str] = {}
            self.attempts: dict[tuple[str, str], Attempt] = {}
            self.recent_purchases: dict[tuple[str, str, str], float] = {}
            self.funding: dict[tuple[str, str], FundingTxn] = {}
            self.funding_by_id: dict[int, FundingTxn] = {}
            self.authorizations: dict[str, dict] = {}
            # Paystack customers by lower-cased email, and dedicated accounts by account number.
            self.customers: dict[str, dict] = {}
            self.dedicated_accounts: dict[str, dict] = {}
            self.call_counts: dict[tuple, int] = {}
            self.webhooks: list[dict] = []
            self.sms: list[dict] = []  # Termii sends, each with the delivery report it got
            self.balance_spent_kobo = 0
            self.transfers: dict[tuple[str, str], TransferTxn] = {}
            self.transfers_by_id: dict[int, TransferTxn] = {}
            self.recipients: dict[str, dict] = {}  # Paystack transfer recipients by recipient_code

    def now(self) -> datetime:
        """The sandbox's clock: real UTC time moved by ``clock_offset_seconds``."""
        return datetime.now(UTC) + timedelta(seconds=self.knobs.clock_offset_seconds)

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def count_call(self, *key) -> int:
        """Number this call (1, 2, ...) among calls with the same key."""
        with self.lock:
            n = self.call_counts.get(key, 0) + 1
            self.call_counts[key] = n
            return n

    def roll_fault(self, provider: str, operation: str, reference: str, n: int) -> str | None:
        """The fault for the n-th ``operation`` call on ``reference``, or None (seeded, deterministic)."""
        knobs = self.knobs
        if knobs.fault_rate <= 0:
            return None
        if operation == "purchase":
            kinds = set(knobs.fault_kinds)
        elif operation == "status":
            kinds = {STATUS_FAULTS[k] for k in knobs.fault_kinds if k in STATUS_FAULTS}
        else:  # funding API calls can only be rate limited
            kinds = {"rate_limited"} & set(knobs.fault_kinds)
        if not kinds:
            return None
        rng = random.Random(f"{knobs.seed}|{provider}|{operation}|{reference}|{n}")
        if rng.random() >= knobs.fault_rate:
            return None
        return rng.choice(sorted(kinds))

    def dump(self) -> dict:
        with self.lock:
            return {
                "knobs": self.knobs.as_dict(),
                "bills": [t.as_dict() for t in self.bills.values()],
                "attempts": [{"provider": p, "reference": r, **asdict(a)} for (p, r), a in self.attempts.items()],
                "funding": [t.as_dict() for t in self.funding.values()],
                "customers": list(self.customers.values()),
                "dedicated_accounts": list(self.dedicated_accounts.values()),
                "webhooks": list(self.webhooks),
                "sms": [dict(message) for message in self.sms],
                "merchant_balance_spent_kobo": self.balance_spent_kobo,
                "transfers": [t.as_dict() for t in self.transfers.values()],
                "recipients": list(self.recipients.values()),
            }
