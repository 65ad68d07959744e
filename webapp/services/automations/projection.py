"""The sweep run forward in memory: what each coming automation run will pay, and why not.

Each moment something can change (a run falls due, a waiting run's grace period ends, an estate
bill falls due) is one sweep: new runs join those waiting, runs past their grace period are missed,
and the waiting runs are decided by ``allocation.decide_runs``, the sweep's own rules, with the
projected wallet balance and the month's spending so far (each month's caps start afresh on the
1st in the resident's time zone). No money arrives in the projection: a run short of money waits
until its grace period ends, as it would.

Pure computation over what the caller read: no database, no provider calls.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from webapp.models import Automation, Bill
from webapp.money import whole_naira
from webapp.services.automations import allocation
from webapp.services.automations.allocation import (
    FULL,
    HELD_FOR_PRIORITY,
    INSUFFICIENT_FUNDS,
    LIMIT_REACHED,
    Decision,
    Request,
)
from webapp.services.automations.targets import Target, target_for

SWEEP_STEP = timedelta(minutes=1)  # the sweep runs each minute: a grace period ends at the next one
NOTHING_TO_PAY = "Nothing to pay unless a new bill is issued"


@dataclass(frozen=True)
class Run:
    """One coming (or already waiting) occurrence of an automation."""

    order: int  # the sweep records a moment's occurrences by automation id: ties go by this
    automation: Automation
    scheduled_for: datetime
    due_at: datetime  # when the sweep first sees it: its time, or now for one already due
    retry_until: datetime
    skipped: bool = False  # "skip next"
    waiting: bool = False  # already waiting for money in the database


@dataclass(frozen=True)
class ManualBill:
    """An estate bill no automation pays: the resident pays it from the wallet when due."""

    when: datetime
    bill: Bill
    overdue: bool


@dataclass(frozen=True)
class Rules:
    min_balance_kobo: int
    type_caps_kobo: Mapping[str, int]
    monthly_cap_kobo: int | None
    timezone: str


@dataclass
class Outcome:
    when: datetime  # when it is paid, or when it was due
    order: int  # processing order, for ties
    status: str  # paid | partial | capped | short | skipped | nothing | unknown | bill
    amount_kobo: int | None  # what is paid (None: decided at run time)
    wanted_kobo: int | None = None
    fee_kobo: int = 0
    run: Run | None = None
    manual: ManualBill | None = None
    from_card: bool = False
    estimate: bool = False  # the amount stands in for one decided at run time (the last one paid)
    bill_id: int | None = None
    note: str | None = None

    @property
    def wallet_kobo(self) -> int:
        """What leaves the wallet."""
        if self.from_card or not self.amount_kobo:
            return 0
        return self.amount_kobo + self.fee_kobo


@dataclass
class Projection:
    outcomes: list[Outcome]  # by time
    start_balance_kobo: int
    first_short_at: datetime | None  # the first sweep at which something is short of money
    balances: list[tuple[datetime, int]] = field(default_factory=list)  # after each payment


@dataclass
class _State:
    balance: int
    spent: dict[tuple[int, int], dict[str, int]]  # local (year, month) -> this month's spend by type
    bills: dict[str, list[list]]  # bill type -> [[bill, remaining], ...] oldest first
    waiting: list[tuple[Run, Target | None]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)  # a waiting run's latest reason
    first_short_at: datetime | None = None
    balances: list[tuple[datetime, int]] = field(default_factory=list)


def project(runs: list[Run], manual_bills: list[ManualBill], bills_by_type: Mapping[str, list[Bill]],
            estimates: Mapping[int, int], *, balance_kobo: int, spent_this_month: Mapping[str, int],
            now: datetime, until: datetime, rules: Rules) -> Projection:
    zone = ZoneInfo(rules.timezone)
    local_now = now.astimezone(zone)
    bills = {kind: [[bill, bill.outstanding_kobo] for bill in found] for kind, found in bills_by_type.items()}
    state = _State(balance=balance_kobo, spent={(local_now.year, local_now.month): dict(spent_this_month)},
                   bills=bills)
    moments = {run.due_at for run in runs} | {bill.when for bill in manual_bills}
    moments |= {run.retry_until + SWEEP_STEP for run in runs if run.retry_until + SWEEP_STEP <= until}
    for moment in sorted(moments):
        _sweep(state, moment, [r for r in runs if r.due_at == moment], [b for b in manual_bills if b.when == moment],
               estimates, rules, zone)
    for run, target in state.waiting:  # still waiting when the projection ends
        _record(state, run.due_at, "short", 0, run=run, target=target,
                note=state.notes.get(run.order) or "Wallet short")
    outcomes = sorted(state.outcomes, key=lambda o: (o.when, o.order))
    return Projection(outcomes, balance_kobo, state.first_short_at, state.balances)


def _sweep(state: _State, now: datetime, due: list[Run], manual: list[ManualBill], estimates, rules: Rules,
           zone: ZoneInfo) -> None:
    for item in manual:
        amount = item.bill.outstanding_kobo
        state.balance -= amount
        _record(state, now, "bill", amount, manual=item, bill_id=item.bill.id,
                note="Overdue" if item.overdue else "Estate bill due; pay it from your wallet")
        state.balances.append((now, state.balance))
        if state.balance < rules.min_balance_kobo and state.first_short_at is None:
            state.first_short_at = now
    for run in sorted(due, key=lambda r: (r.scheduled_for, r.order)):
        if run.skipped:
            target = _target(state, run.automation, estimates)
            _record(state, now, "skipped", target.amount_kobo if target else None, run=run, target=target,
                    note="Skipped at your request")
        else:
            state.waiting.append((run, None))
    still = []
    for run, target in state.waiting:
        if run.retry_until < now:
            _record(state, run.scheduled_for if not run.waiting else run.due_at, "short", 0, run=run, target=target,
                    note=f"Wallet short: missed {_at(run.retry_until, zone)} unless you add money")
        else:
            still.append((run, target))
    state.waiting = still
    _decide(state, now, estimates, rules, zone)


def _decide(state: _State, now: datetime, estimates, rules: Rules, zone: ZoneInfo) -> None:
    """The sweep's ``_allocate_waiting`` for the projected resident."""
    requests, runs = [], {}
    still = []
    for run, _old in state.waiting:
        target = _target(state, run.automation, estimates)
        if target is None:
            _record(state, run.due_at, "unknown", None, run=run, note="Amount decided at run time")
            continue
        if target.amount_kobo <= 0:
            _record(state, run.due_at, "nothing", 0, run=run, target=target,
                    note=target.problem or "Nothing to pay")
            continue
        runs[run.order] = (run, target)
        still.append((run, target))
        requests.append(allocation.request_for(run.automation, target, key=run.order))
    state.waiting = still
    if not requests:
        return
    local = now.astimezone(zone)
    spent = state.spent.setdefault((local.year, local.month), {})
    wallet = [r for r in requests if runs[r.key][0].automation.payment_source == "wallet"]
    card = [r for r in requests if runs[r.key][0].automation.payment_source == "card"]
    decisions = allocation.decide_runs(wallet, card, wallet_balance_kobo=state.balance,
                                       min_balance_kobo=rules.min_balance_kobo, spent_kobo=spent,
                                       type_caps_kobo=rules.type_caps_kobo, monthly_cap_kobo=rules.monthly_cap_kobo)
    by_key = {r.key: r for r in requests}
    overall, type_caps = allocation.caps_remaining(spent, rules.type_caps_kobo, rules.monthly_cap_kobo)
    spendable = allocation.spendable_kobo(state.balance, rules.min_balance_kobo)
    decided = set()
    for decision in decisions:
        request = by_key[decision.key]
        run, target = runs[decision.key]
        from_card = run.automation.payment_source == "card"
        why, funds_short = _why(request, decision, overall, type_caps, None if from_card else spendable, rules)
        if funds_short and state.first_short_at is None:
            state.first_short_at = now
        if decision.outcome in (INSUFFICIENT_FUNDS, HELD_FOR_PRIORITY):
            state.notes[run.order] = why
            continue
        decided.add(decision.key)
        if decision.outcome == LIMIT_REACHED:
            _record(state, run.due_at, "capped", 0, run=run, target=target, note=why)
            continue
        amount = decision.amount_kobo
        if not from_card:
            state.balance -= amount + decision.fee_kobo
            spendable -= amount + decision.fee_kobo
        if overall is not None:
            overall -= amount
        if request.utility_type in type_caps:
            type_caps[request.utility_type] -= amount
        spent[request.utility_type] = spent.get(request.utility_type, 0) + amount
        _take_from_bill(state, target, amount)
        outcome = _record(state, now, "paid" if decision.outcome == FULL else "partial", amount, run=run,
                          target=target, note=why)
        if outcome.wallet_kobo:
            state.balances.append((now, state.balance))
    state.waiting = [(run, target) for run, target in state.waiting if run.order not in decided]


def _why(request: Request, decision: Decision, overall: int | None, type_caps: dict[str, int],
         spendable: int | None, rules: Rules) -> tuple[str | None, bool]:
    """Why a run pays less than it wants, and whether the wallet is the reason."""
    if decision.outcome == HELD_FOR_PRIORITY:
        return "Wallet short: a higher-priority payment is first in line", True
    if decision.outcome == FULL:
        return None, False
    limits = []
    if request.max_per_payment_kobo is not None:
        per_payment = whole_naira(request.max_per_payment_kobo)
        limits.append((request.max_per_payment_kobo, f"Limited to {per_payment} per payment"))
    if request.utility_type in type_caps:
        cap = rules.type_caps_kobo[request.utility_type]
        limits.append((max(0, type_caps[request.utility_type]),
                       f"Capped at {whole_naira(cap)} this month for {_kind_words(request.utility_type)}"))
    if overall is not None:
        limits.append((max(0, overall), f"Capped at {whole_naira(rules.monthly_cap_kobo)} this month "
                                        "for all automatic payments"))
    bound, limit_words = min(limits, key=lambda pair: pair[0]) if limits else (None, None)
    funds = None if spendable is None else max(0, spendable - request.fee_kobo)
    wanted = whole_naira(request.desired_kobo)
    if decision.outcome == INSUFFICIENT_FUNDS:
        return "Wallet short", True
    if decision.outcome == LIMIT_REACHED:
        return limit_words or "A spending limit did not allow this payment", False
    paid = whole_naira(decision.amount_kobo)
    if bound is not None and decision.amount_kobo == bound and (funds is None or funds >= bound):
        return f"{limit_words}: pays {paid} of {wanted}", False
    return f"Wallet short: pays {paid} of {wanted}", True


def _target(state: _State, automation: Automation, estimates) -> Target | None:
    """What the run wants, as ``targets.target_for`` would say then (None: only known at run time)."""
    if automation.target_kind == "estate_bill":
        queue = state.bills.get(automation.bill_type) or []
        while queue and queue[0][1] <= 0:
            queue.pop(0)
        if not queue:
            return Target(0, "estate_bill", problem=NOTHING_TO_PAY)
        bill, remaining = queue[0]
        amount = remaining if automation.amount_mode == "full_outstanding" else min(remaining, automation.amount_kobo)
        return Target(amount, "estate_bill", bill_id=bill.id)
    account = automation.utility_account
    if automation.amount_mode == "fixed" or account is None or account.removed_at is not None \
            or not account.provider.is_active:
        return target_for(automation)  # no provider call for these
    estimate = estimates.get(automation.id)
    if not estimate:
        return None
    entry = account.provider
    return Target(estimate, entry.provider_type, fee_kobo=entry.fee_kobo, min_kobo=entry.min_amount_kobo,
                  fixed_price=entry.is_fixed_amount)


def _take_from_bill(state: _State, target: Target, amount: int) -> None:
    if target.bill_id is None:
        return
    for queue in state.bills.values():
        for entry in queue:
            if entry[0].id == target.bill_id:
                entry[1] -= amount
                return


def _record(state: _State, when: datetime, status: str, amount: int | None, *, run: Run | None = None,
            manual: ManualBill | None = None, target: Target | None = None, bill_id: int | None = None,
            note: str | None = None) -> Outcome:
    automation = run.automation if run else None
    estimate = bool(automation and automation.target_kind == "utility" and automation.amount_mode != "fixed"
                    and target is not None)
    outcome = Outcome(
        when=when, order=len(state.outcomes), status=status, amount_kobo=amount,
        wanted_kobo=target.amount_kobo if target else amount, fee_kobo=target.fee_kobo if target else 0,
        run=run, manual=manual, from_card=bool(automation and automation.payment_source == "card"),
        estimate=estimate, bill_id=bill_id if bill_id is not None else (target.bill_id if target else None),
        note=note,
    )
    state.outcomes.append(outcome)
    return outcome


def _kind_words(kind: str) -> str:
    return {"estate_bill": "estate bills", "cable_tv": "cable TV"}.get(kind, kind.replace("_", " "))


def _at(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%a %-d %b %H:%M")
