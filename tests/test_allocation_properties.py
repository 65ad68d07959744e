"""How much each due automation may pay: the allocation rules as properties and as worked examples.

Hypothesis draws a resident's due requests (priorities, amounts, fees, per-payment limits, partial
payments with a minimum, utility types) and their wallet, minimum balance and monthly caps. The test
replays the decisions in serving order, tracking what was left of the wallet and the caps from the
amounts actually paid, and checks each decision against that independent account.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.services.automations.allocation import (
    FULL,
    HELD_FOR_PRIORITY,
    INSUFFICIENT_FUNDS,
    LIMIT_REACHED,
    PARTIAL,
    Decision,
    Limits,
    Request,
    allocate,
)

TYPES = ("electricity", "water", "internet", "cable_tv", "estate_bill")
HIGH, NORMAL, LOW = 3, 2, 1
PROPERTY = settings(max_examples=120, deadline=None)

# Tiny, small and large scales mixed: tiny amounts make ties and exact boundaries common.
kobo = st.one_of(st.integers(1, 40), st.integers(1, 20_000), st.integers(1, 10**8))
fee = st.one_of(st.just(0), st.integers(0, 5), st.integers(0, 10**4))
utility_type = st.one_of(st.just("electricity"), st.sampled_from(TYPES))  # often two bills share a type cap
NEGATIVE = st.integers(-10**5, -1)  # a cap already passed this month (it was lowered since)
NUDGE = st.integers(-3, 3)


def around(amount: int) -> st.SearchStrategy[int]:
    """Values just below, at and above ``amount``, where the rules change their answer."""
    return st.integers(max(0, amount // 2), amount * 2 + 1)


@st.composite
def a_request(draw) -> Request:
    desired = draw(kobo)
    allow_partial = draw(st.booleans())
    return Request(
        key=None, priority=draw(st.integers(LOW, HIGH)), desired_kobo=desired,
        utility_type=draw(utility_type), fee_kobo=draw(fee),
        max_per_payment_kobo=draw(st.one_of(st.none(), st.none(), around(desired))), allow_partial=allow_partial,
        partial_min_kobo=draw(st.one_of(st.just(0), around(desired), kobo)) if allow_partial else 0,
        order=draw(st.integers(0, 5)),  # ties allowed: input order breaks them
    )


due_requests = st.lists(a_request(), min_size=1, max_size=8).map(
    lambda drawn: [replace(r, key=f"r{i}") for i, r in enumerate(drawn)])


@st.composite
def scenarios(draw, plenty_of_money: bool = False) -> tuple[list[Request], Limits]:
    """Requests, and a wallet and caps often just short of, or just enough for, what they want.

    Besides ranges around the total, a budget is often set to within a few kobo of what the first
    k requests in serving order cost, where "pays" turns into "waits". With ``plenty_of_money`` the
    wallet covers everything, so only the limits can stop a payment.
    """
    requests = draw(due_requests)
    served = sorted(requests, key=lambda r: (-r.priority, r.order))
    first = served[:draw(st.integers(0, len(served)))]
    wanted = sum(r.desired_kobo for r in requests)
    minimum = draw(st.one_of(st.just(0), kobo))
    need = wanted + sum(r.fee_kobo for r in requests) + minimum
    edge = max(0, minimum + sum(r.desired_kobo + r.fee_kobo for r in first) + draw(NUDGE))
    enough = st.integers(need, 3 * need)
    balance = draw(enough if plenty_of_money else st.one_of(st.just(0), kobo, around(need), st.just(edge), enough))
    type_caps = {}
    for kind in draw(st.sets(st.sampled_from(TYPES))):
        type_caps[kind] = draw(cap_for(sum(r.desired_kobo for r in requests if r.utility_type == kind),
                                       sum(r.desired_kobo for r in first if r.utility_type == kind)))
    return requests, Limits(
        wallet_balance_kobo=balance, min_balance_kobo=minimum,
        overall_cap_remaining_kobo=draw(cap_for(wanted, sum(r.desired_kobo for r in first)))
        if draw(st.booleans()) else None,
        type_caps_remaining_kobo=type_caps,
    )


def cap_for(wanted: int, first_wanted: int) -> st.SearchStrategy[int]:
    """What is left of a monthly cap: around what the bills under it want, or within a few kobo of
    what the first of them want; sometimes already passed."""
    return st.one_of(around(wanted), NUDGE.map(lambda n: first_wanted + n), st.integers(wanted, 3 * wanted + 1),
                     NEGATIVE)


@dataclass(frozen=True)
class Turn:
    """One decision, with what was left of the wallet and caps when its request was served."""
    request: Request
    decision: Decision
    funds: int  # above the minimum balance
    overall: int | None
    type_cap: int | None
    short_above: bool  # a strictly higher-priority request already ended short of funds

    @property
    def limits_allow(self) -> int:
        r = self.request
        bounds = [r.desired_kobo] + [max(0, b) for b in (r.max_per_payment_kobo, self.overall, self.type_cap)
                                     if b is not None]
        return min(bounds)

    @property
    def funds_allow(self) -> int:
        return max(0, self.funds - self.request.fee_kobo)

    @property
    def allows(self) -> int:
        return min(self.limits_allow, self.funds_allow)

    @property
    def least_acceptable(self) -> int:
        """The smallest amount this request would take: all of it, or its partial minimum."""
        r = self.request
        return min(r.desired_kobo, max(r.partial_min_kobo, 1)) if r.allow_partial else r.desired_kobo


def replay(requests: list[Request], limits: Limits, decisions: list[Decision]) -> list[Turn]:
    by_key = {r.key: r for r in requests}
    funds = max(0, limits.wallet_balance_kobo - limits.min_balance_kobo)
    overall = limits.overall_cap_remaining_kobo
    type_caps = dict(limits.type_caps_remaining_kobo)
    short_priorities: list[int] = []
    turns = []
    for decision in decisions:
        request = by_key[decision.key]
        turns.append(Turn(request, decision, funds, overall, type_caps.get(request.utility_type),
                          any(p > request.priority for p in short_priorities)))
        if decision.outcome == INSUFFICIENT_FUNDS:
            short_priorities.append(request.priority)
        funds -= decision.amount_kobo + decision.fee_kobo
        if overall is not None:
            overall -= decision.amount_kobo
        if request.utility_type in type_caps:
            type_caps[request.utility_type] -= decision.amount_kobo
    return turns


def decide(scenario) -> tuple[list[Request], Limits, list[Turn]]:
    requests, limits = scenario
    return requests, limits, replay(requests, limits, allocate(requests, limits))


def paid(turns: list[Turn]) -> list[Turn]:
    return [t for t in turns if t.decision.amount_kobo > 0]


# --- properties ----------------------------------------------------------------------------------

@PROPERTY
@given(scenarios())
def test_decisions_come_back_one_per_request_in_serving_order(scenario):
    requests, _, turns = decide(scenario)
    assert sorted(t.request.key for t in turns) == sorted(r.key for r in requests)
    serving = [(-t.request.priority, t.request.order) for t in turns]
    assert serving == sorted(serving)
    for earlier, later in zip(turns, turns[1:], strict=False):  # ties keep the order they were given in
        if (earlier.request.priority, earlier.request.order) == (later.request.priority, later.request.order):
            assert requests.index(earlier.request) < requests.index(later.request)


@PROPERTY
@given(scenarios())
def test_no_payment_exceeds_its_desired_amount_or_its_per_payment_limit(scenario):
    for turn in decide(scenario)[2]:
        assert 0 <= turn.decision.amount_kobo <= turn.request.desired_kobo
        if turn.request.max_per_payment_kobo is not None:
            assert turn.decision.amount_kobo <= turn.request.max_per_payment_kobo


@PROPERTY
@given(scenarios())
def test_the_fee_is_charged_with_a_payment_and_only_then(scenario):
    for turn in decide(scenario)[2]:
        assert turn.decision.fee_kobo == (turn.request.fee_kobo if turn.decision.amount_kobo else 0)


@PROPERTY
@given(st.one_of(scenarios(), scenarios(plenty_of_money=True)))
def test_no_monthly_cap_overall_or_per_type_is_exceeded(scenario):
    _, limits, turns = decide(scenario)
    if limits.overall_cap_remaining_kobo is not None:
        assert sum(t.decision.amount_kobo for t in turns) <= max(0, limits.overall_cap_remaining_kobo)
    for kind, remaining in limits.type_caps_remaining_kobo.items():
        assert sum(t.decision.amount_kobo for t in turns if t.request.utility_type == kind) <= max(0, remaining)


@PROPERTY
@given(scenarios())
def test_automation_never_takes_the_wallet_below_the_minimum_balance(scenario):
    _, limits, turns = decide(scenario)
    spent = sum(t.decision.amount_kobo + t.decision.fee_kobo for t in turns)
    assert limits.wallet_balance_kobo - spent >= min(limits.min_balance_kobo, limits.wallet_balance_kobo)


@PROPERTY
@given(scenarios(), st.one_of(st.just(0), kobo))
def test_nothing_is_paid_when_the_balance_is_at_or_below_the_minimum(scenario, above_balance):
    requests, limits = scenario
    limits.min_balance_kobo = limits.wallet_balance_kobo + above_balance
    assert paid(decide((requests, limits))[2]) == []


@PROPERTY
@given(scenarios())
def test_a_partial_payment_is_exactly_what_limits_and_balance_allow_at_its_turn(scenario):
    for turn in decide(scenario)[2]:
        if turn.decision.outcome == PARTIAL:
            assert turn.request.allow_partial
            assert turn.decision.amount_kobo == turn.allows < turn.request.desired_kobo


@PROPERTY
@given(scenarios())
def test_a_partial_payment_is_never_below_its_partial_minimum(scenario):
    for turn in decide(scenario)[2]:
        if turn.decision.outcome == PARTIAL:
            assert turn.decision.amount_kobo >= max(turn.request.partial_min_kobo, 1)


@PROPERTY
@given(scenarios())
def test_a_request_without_partial_payments_is_paid_in_full_or_not_at_all(scenario):
    for turn in decide(scenario)[2]:
        if not turn.request.allow_partial:
            assert turn.decision.amount_kobo in (0, turn.request.desired_kobo)


@PROPERTY
@given(scenarios())
def test_a_full_payment_pays_the_desired_amount(scenario):
    for turn in decide(scenario)[2]:
        assert (turn.decision.outcome == FULL) == (turn.decision.amount_kobo == turn.request.desired_kobo)


@PROPERTY
@given(scenarios())
def test_when_a_request_is_short_of_funds_no_lower_priority_request_is_paid(scenario):
    turns = decide(scenario)[2]
    short = [t.request.priority for t in turns if t.decision.outcome == INSUFFICIENT_FUNDS]
    if short:
        assert all(t.request.priority >= max(short) for t in paid(turns))


@PROPERTY
@given(scenarios())
def test_a_request_the_limits_and_wallet_cover_at_its_turn_is_paid_in_full(scenario):
    for turn in decide(scenario)[2]:
        if not turn.short_above and turn.allows == turn.request.desired_kobo:
            assert (turn.decision.outcome, turn.decision.amount_kobo) == (FULL, turn.request.desired_kobo)


@PROPERTY
@given(scenarios())
def test_limit_reached_means_a_limit_and_not_the_wallet_stopped_the_payment(scenario):
    for turn in decide(scenario)[2]:
        if turn.decision.outcome == LIMIT_REACHED:
            assert turn.decision.amount_kobo == 0
            assert turn.limits_allow < turn.least_acceptable


@PROPERTY
@given(scenarios())
def test_insufficient_funds_means_the_limits_allowed_it_but_the_wallet_did_not(scenario):
    for turn in decide(scenario)[2]:
        if turn.decision.outcome == INSUFFICIENT_FUNDS:
            assert turn.decision.amount_kobo == 0
            assert turn.limits_allow >= turn.least_acceptable > turn.funds_allow


@PROPERTY
@given(scenarios())
def test_a_request_waits_for_priority_only_behind_a_higher_priority_request_short_of_funds(scenario):
    for turn in decide(scenario)[2]:
        assert (turn.decision.outcome == HELD_FOR_PRIORITY) == turn.short_above
        if turn.short_above:
            assert turn.decision.amount_kobo == 0


# --- worked examples (amounts in kobo: ₦1 = 100) -------------------------------------------------

def naira(amount: int) -> int:
    return amount * 100


def bill(key: str, amount_naira: int, priority: int = NORMAL, **kw) -> Request:
    return Request(key=key, priority=priority, desired_kobo=naira(amount_naira), utility_type="electricity", **kw)


def outcomes(requests: list[Request], **limits) -> dict[str, tuple[str, int]]:
    limits = {k: naira(v) if isinstance(v, int) else v for k, v in limits.items()}
    return {d.key: (d.outcome, d.amount_kobo) for d in allocate(requests, Limits(**limits))}


def test_high_priority_bill_is_paid_and_the_low_one_waits_when_the_minimum_balance_leaves_too_little():
    requests = [bill("low", 4_000, LOW, order=1), bill("high", 5_000, HIGH, order=2)]
    assert outcomes(requests, wallet_balance_kobo=10_000, min_balance_kobo=2_000) == {
        "high": (FULL, naira(5_000)), "low": (INSUFFICIENT_FUNDS, 0)}


def test_a_low_priority_bill_allowing_partial_payments_takes_what_is_left_above_the_minimum():
    requests = [bill("low", 4_000, LOW, allow_partial=True, partial_min_kobo=naira(1_000)),
                bill("high", 5_000, HIGH)]
    assert outcomes(requests, wallet_balance_kobo=10_000, min_balance_kobo=2_000) == {
        "high": (FULL, naira(5_000)), "low": (PARTIAL, naira(3_000))}


def test_a_partial_payment_exactly_at_its_minimum_is_paid():
    requests = [bill("only", 4_000, allow_partial=True, partial_min_kobo=naira(1_000))]
    assert outcomes(requests, wallet_balance_kobo=3_000, min_balance_kobo=2_000) == {
        "only": (PARTIAL, naira(1_000))}


def test_a_partial_payment_is_refused_below_its_minimum():
    requests = [bill("only", 4_000, allow_partial=True, partial_min_kobo=naira(1_000))]
    assert outcomes(requests, wallet_balance_kobo=2_900, min_balance_kobo=2_000) == {
        "only": (INSUFFICIENT_FUNDS, 0)}


def test_a_cheaper_low_priority_bill_is_held_while_a_high_priority_one_waits_for_money():
    requests = [bill("high", 6_000, HIGH), bill("low", 1_000, LOW)]
    assert outcomes(requests, wallet_balance_kobo=5_000) == {
        "high": (INSUFFICIENT_FUNDS, 0), "low": (HELD_FOR_PRIORITY, 0)}


def test_a_high_priority_bill_stopped_by_a_cap_does_not_hold_money_back():
    requests = [bill("high", 6_000, HIGH), Request("water", LOW, naira(1_000), "water")]
    assert outcomes(requests, wallet_balance_kobo=50_000, type_caps_remaining_kobo={"electricity": naira(5_000)}) == {
        "high": (LIMIT_REACHED, 0), "water": (FULL, naira(1_000))}


def test_the_older_of_two_equal_priority_bills_is_served_first():
    requests = [bill("newer", 3_000, order=9), bill("older", 3_000, order=1)]
    assert outcomes(requests, wallet_balance_kobo=4_000) == {
        "older": (FULL, naira(3_000)), "newer": (INSUFFICIENT_FUNDS, 0)}


def test_the_fee_counts_against_the_minimum_balance():
    assert outcomes([bill("b", 5_000, fee_kobo=naira(100))], wallet_balance_kobo=7_100, min_balance_kobo=2_000) == {
        "b": (FULL, naira(5_000))}
    assert outcomes([bill("b", 5_000, fee_kobo=naira(101))], wallet_balance_kobo=7_100, min_balance_kobo=2_000) == {
        "b": (INSUFFICIENT_FUNDS, 0)}


def test_a_monthly_type_cap_stops_a_full_only_bill_and_trims_a_partial_one():
    cap = {"type_caps_remaining_kobo": {"electricity": naira(3_000)}}
    assert outcomes([bill("b", 5_000)], wallet_balance_kobo=50_000, **cap) == {"b": (LIMIT_REACHED, 0)}
    assert outcomes([bill("b", 5_000, allow_partial=True)], wallet_balance_kobo=50_000, **cap) == {
        "b": (PARTIAL, naira(3_000))}


def test_two_bills_of_one_type_share_that_types_monthly_cap():
    requests = [bill("first", 3_000, HIGH), bill("second", 3_000, LOW), Request("water", LOW, naira(3_000), "water")]
    assert outcomes(requests, wallet_balance_kobo=50_000, type_caps_remaining_kobo={"electricity": naira(5_000)}) == {
        "first": (FULL, naira(3_000)), "second": (LIMIT_REACHED, 0), "water": (FULL, naira(3_000))}


def test_the_overall_cap_is_shared_between_bills_in_serving_order():
    requests = [bill("first", 3_000, HIGH), Request("second", LOW, naira(3_000), "water")]
    assert outcomes(requests, wallet_balance_kobo=50_000, overall_cap_remaining_kobo=5_000) == {
        "first": (FULL, naira(3_000)), "second": (LIMIT_REACHED, 0)}


def test_a_cap_already_passed_this_month_pays_nothing():
    assert outcomes([bill("b", 100, allow_partial=True)], wallet_balance_kobo=50_000,
                    overall_cap_remaining_kobo=-500) == {"b": (LIMIT_REACHED, 0)}


def test_the_per_payment_limit_stops_a_full_only_bill_and_trims_a_partial_one():
    assert outcomes([bill("b", 5_000, max_per_payment_kobo=naira(4_000))], wallet_balance_kobo=50_000) == {
        "b": (LIMIT_REACHED, 0)}
    assert outcomes([bill("b", 5_000, max_per_payment_kobo=naira(4_000), allow_partial=True)],
                    wallet_balance_kobo=50_000) == {"b": (PARTIAL, naira(4_000))}


def test_a_bill_smaller_than_its_partial_minimum_waits_for_money_rather_than_hitting_a_limit():
    requests = [bill("small", 500, allow_partial=True, partial_min_kobo=naira(1_000))]
    assert outcomes(requests, wallet_balance_kobo=300) == {"small": (INSUFFICIENT_FUNDS, 0)}


def test_no_requests_no_decisions():
    assert allocate([], Limits(wallet_balance_kobo=naira(1_000))) == []


# --- what stopped a request (the sweep's reason words come from it) ---------------------------------

def _stopped_by(request: Request, limits: Limits) -> tuple[str, str | None]:
    [decision] = allocate([request], limits)
    return decision.outcome, decision.stopped_by


def test_the_tightest_limit_is_the_one_named():
    from webapp.services.automations import allocation as a

    want = Request("r", NORMAL, 5_000_00, "electricity", max_per_payment_kobo=4_000_00)
    rich = 100_000_00
    assert _stopped_by(want, Limits(rich)) == (LIMIT_REACHED, a.PER_PAYMENT_LIMIT)
    assert _stopped_by(want, Limits(rich, type_caps_remaining_kobo={"electricity": 3_000_00})) == (
        LIMIT_REACHED, a.TYPE_CAP)
    assert _stopped_by(want, Limits(rich, overall_cap_remaining_kobo=1_000_00,
                                    type_caps_remaining_kobo={"electricity": 3_000_00})) == (
        LIMIT_REACHED, a.MONTHLY_CAP)


def test_short_of_money_says_whether_the_minimum_balance_is_why():
    from webapp.services.automations import allocation as a

    want = Request("r", NORMAL, 5_000_00, "electricity", fee_kobo=100_00)
    assert _stopped_by(want, Limits(6_000_00, min_balance_kobo=2_000_00)) == (INSUFFICIENT_FUNDS, a.MIN_BALANCE)
    assert _stopped_by(want, Limits(5_000_00, min_balance_kobo=2_000_00)) == (INSUFFICIENT_FUNDS, a.WALLET)
    assert _stopped_by(want, Limits(6_000_00)) == (FULL, None)
