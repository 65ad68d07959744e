"""How much each due automation may pay right now: priority, per-payment limits, monthly caps,
the minimum balance and partial payments. Pure functions, so the rules can be property-tested.

Rules, in order:
1. Requests are served by priority (higher first), then by age (older first).
2. A request never pays more than it wants, nor more than its per-payment limit.
3. Monthly caps (overall and per utility type) bound the amount; they count the bill amount.
4. Automation never takes the wallet below the resident's minimum balance (amount + fee).
5. When the rest does not allow the full amount, a request that allows partial payments pays
   exactly what the limits and balance allow, if that is at least its partial minimum.
6. Money is held for priority: once a request is short of funds, lower-priority requests wait too,
   rather than spending what the higher-priority one is waiting for.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    key: Hashable
    priority: int
    desired_kobo: int
    utility_type: str
    fee_kobo: int = 0
    max_per_payment_kobo: int | None = None
    allow_partial: bool = False
    partial_min_kobo: int = 0
    order: int = 0  # tie-break: older automations first


@dataclass
class Limits:
    wallet_balance_kobo: int
    min_balance_kobo: int = 0
    overall_cap_remaining_kobo: int | None = None
    type_caps_remaining_kobo: dict[str, int] = field(default_factory=dict)


FULL = "full"
PARTIAL = "partial"
INSUFFICIENT_FUNDS = "insufficient_funds"
LIMIT_REACHED = "limit_reached"
HELD_FOR_PRIORITY = "held_for_priority"

# What stopped a request (``Decision.stopped_by``), so that a run not paid says why in plain words.
PER_PAYMENT_LIMIT = "per_payment_limit"
TYPE_CAP = "type_cap"
MONTHLY_CAP = "monthly_cap"
MIN_BALANCE = "min_balance"  # the wallet holds enough, but not above the minimum balance
WALLET = "wallet"
NOTHING_WANTED = "nothing_wanted"


@dataclass(frozen=True)
class Decision:
    key: Hashable
    amount_kobo: int
    fee_kobo: int
    outcome: str  # full | partial | insufficient_funds | limit_reached | held_for_priority
    stopped_by: str | None = None  # for limit_reached and insufficient_funds: which bound (above)

    @property
    def pays(self) -> bool:
        return self.amount_kobo > 0


UNLIMITED_KOBO = 10**15  # "no money limit": a saved card, or the preview asking about limits alone


def request_for(automation, target, key: Hashable | None = None) -> Request:
    """The request of one automation run that wants ``target`` (an ``automations.targets.Target``).
    The sweep and the upcoming preview both build requests here, so they apply the same limits."""
    return Request(
        key=automation.id if key is None else key, priority=automation.priority,
        desired_kobo=target.amount_kobo, utility_type=target.utility_type, fee_kobo=target.fee_kobo,
        max_per_payment_kobo=automation.max_per_payment_kobo,
        allow_partial=automation.allow_partial and not target.fixed_price,
        partial_min_kobo=max(automation.partial_min_kobo, target.min_kobo), order=automation.id,
    )


def spendable_kobo(wallet_balance_kobo: int, min_balance_kobo: int) -> int:
    """What automation may spend from the wallet: never below the resident's minimum balance."""
    return max(0, wallet_balance_kobo - min_balance_kobo)


def within_limits(request: Request) -> Decision:
    """What a request may pay by its own limits alone, with money no object (the preview's question)."""
    return allocate([request], Limits(wallet_balance_kobo=UNLIMITED_KOBO))[0]


def ordered(requests: Iterable[Request]) -> list[Request]:
    return sorted(requests, key=lambda r: (-r.priority, r.order))


def allocate(requests: Iterable[Request], limits: Limits) -> list[Decision]:
    """Decide every request; the result follows the serving order."""
    spendable = spendable_kobo(limits.wallet_balance_kobo, limits.min_balance_kobo)
    in_wallet = limits.wallet_balance_kobo  # what is left ignoring the minimum balance
    overall = limits.overall_cap_remaining_kobo
    by_type = dict(limits.type_caps_remaining_kobo)
    decisions: list[Decision] = []
    starved_priority: int | None = None
    for req in ordered(requests):
        if starved_priority is not None and req.priority < starved_priority:
            decisions.append(Decision(req.key, 0, 0, HELD_FOR_PRIORITY))
            continue
        wanted = max(0, req.desired_kobo)
        limit_bound, limited_by = wanted, NOTHING_WANTED
        if req.max_per_payment_kobo is not None and req.max_per_payment_kobo < limit_bound:
            limit_bound, limited_by = req.max_per_payment_kobo, PER_PAYMENT_LIMIT
        type_cap = by_type.get(req.utility_type)
        if type_cap is not None and max(0, type_cap) < limit_bound:
            limit_bound, limited_by = max(0, type_cap), TYPE_CAP
        if overall is not None and max(0, overall) < limit_bound:
            limit_bound, limited_by = max(0, overall), MONTHLY_CAP
        funds_bound = max(0, spendable - req.fee_kobo)
        # The least this request takes: its partial minimum, or all of it when it wants less than that.
        floor = min(max(req.partial_min_kobo, 1), wanted)
        needed = floor if req.allow_partial else wanted
        short_of = MIN_BALANCE if in_wallet - req.fee_kobo >= needed else WALLET
        if wanted == 0:
            amount, outcome = 0, LIMIT_REACHED
        elif not req.allow_partial:
            if limit_bound < wanted:
                amount, outcome = 0, LIMIT_REACHED
            elif funds_bound < wanted:
                amount, outcome = 0, INSUFFICIENT_FUNDS
            else:
                amount, outcome = wanted, FULL
        else:
            amount = min(limit_bound, funds_bound)
            if amount == wanted:
                outcome = FULL
            elif amount >= floor:
                outcome = PARTIAL
            else:
                outcome = LIMIT_REACHED if limit_bound < floor else INSUFFICIENT_FUNDS
                amount = 0
        if outcome == INSUFFICIENT_FUNDS:
            starved_priority = req.priority
        stopped_by = {LIMIT_REACHED: limited_by, INSUFFICIENT_FUNDS: short_of}.get(outcome)
        if amount:
            spendable -= amount + req.fee_kobo
            in_wallet -= amount + req.fee_kobo
            if overall is not None:
                overall -= amount
            if type_cap is not None:
                by_type[req.utility_type] = type_cap - amount
        decisions.append(Decision(req.key, amount, req.fee_kobo if amount else 0, outcome, stopped_by))
    return decisions


def caps_remaining(spent_kobo: Mapping[str, int], type_caps_kobo: Mapping[str, int],
                   monthly_cap_kobo: int | None) -> tuple[int | None, dict[str, int]]:
    """What the monthly caps still allow, given this month's automation spending by utility type:
    (overall, by type). None overall: no overall cap."""
    by_type = {kind: cap - spent_kobo.get(kind, 0) for kind, cap in type_caps_kobo.items()}
    overall = None if monthly_cap_kobo is None else monthly_cap_kobo - sum(spent_kobo.values())
    return overall, by_type


def decide_runs(wallet_requests: list[Request], card_requests: list[Request], *, wallet_balance_kobo: int,
                min_balance_kobo: int, spent_kobo: Mapping[str, int], type_caps_kobo: Mapping[str, int],
                monthly_cap_kobo: int | None) -> list[Decision]:
    """One sweep's decisions for one resident's waiting runs: those paid from the wallet first (the
    wallet and its minimum balance limit them), then those paid by a saved card (caps only, after
    what the wallet ones took). The sweep and the upcoming projection both decide here."""
    overall, type_caps = caps_remaining(spent_kobo, type_caps_kobo, monthly_cap_kobo)
    kinds = {r.key: r.utility_type for r in wallet_requests}
    decisions = allocate(wallet_requests, Limits(
        wallet_balance_kobo=wallet_balance_kobo, min_balance_kobo=min_balance_kobo,
        overall_cap_remaining_kobo=overall, type_caps_remaining_kobo=type_caps,
    ))
    if card_requests:
        # A saved card pays for itself: the wallet and its minimum balance do not limit it; caps do.
        for d in decisions:
            if d.pays:
                kind = kinds[d.key]
                overall = None if overall is None else overall - d.amount_kobo
                if kind in type_caps:
                    type_caps[kind] -= d.amount_kobo
        decisions += allocate(card_requests, Limits(wallet_balance_kobo=UNLIMITED_KOBO,
                                                    overall_cap_remaining_kobo=overall,
                                                    type_caps_remaining_kobo=type_caps))
    return decisions
