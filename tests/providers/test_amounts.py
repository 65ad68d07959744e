"""Kobo <-> naira at the edge, never through a float."""
import json
from decimal import Decimal

import pytest

from webapp.providers.amounts import amount_problem, dumps, kobo_to_naira, naira_to_kobo, plain_kobo


@pytest.mark.parametrize(("kobo", "wire"), [(500_000, "5000"), (123_456, "1234.56"), (1, "0.01"), (10, "0.10")])
def test_kobo_goes_out_as_exact_naira_json_numbers(kobo, wire):
    assert dumps({"amount": kobo_to_naira(kobo)}) == '{"amount":' + wire + "}"


def test_whole_naira_are_sent_as_integers():
    assert kobo_to_naira(1_250_000) == 12_500 and isinstance(kobo_to_naira(1_250_000), int)


@pytest.mark.parametrize("bad", [12.5, "100", True, None])
def test_only_integer_kobo_can_be_converted(bad):
    with pytest.raises(TypeError):
        kobo_to_naira(bad)


def test_floats_are_refused_in_request_bodies():
    with pytest.raises(TypeError):
        dumps({"amount": 12.5})


def test_dumps_round_trips_through_decimal_parsing():
    text = dumps({"a": [Decimal("0.10"), {"b": Decimal("99999999999.99")}], "c": "x"})
    assert json.loads(text, parse_float=Decimal) == {"a": [Decimal("0.10"), {"b": Decimal("99999999999.99")}],
                                                     "c": "x"}


@pytest.mark.parametrize(
    ("naira", "kobo"),
    [(500, 50_000), ("500.0000", 50_000), (Decimal("1234.56"), 123_456), ("₦12,500.00", 1_250_000),
     ("0.01", 1), (Decimal("0.005"), 1), (0, 0)],
)
def test_naira_answers_become_integer_kobo(naira, kobo):
    assert naira_to_kobo(naira) == kobo


@pytest.mark.parametrize("junk", [None, "", "abc", True, "NaN", "Infinity"])
def test_unreadable_naira_is_none_not_zero(junk):
    assert naira_to_kobo(junk) is None


def test_paystack_kobo_must_be_whole():
    assert plain_kobo(50_000) == 50_000
    assert plain_kobo("50000") == 50_000
    assert plain_kobo("500.5") is None


class Entry:
    def __init__(self, fixed=0, low=None, high=None):
        self.fixed_amount_kobo, self.min_amount_kobo, self.max_amount_kobo = fixed, low, high


@pytest.mark.parametrize(
    ("entry", "amount", "ok"),
    [(Entry(low=500_00, high=500_000_00), 500_00, True), (Entry(low=500_00), 499_99, False),
     (Entry(high=1_000_00), 1_000_01, False), (Entry(fixed=4_400_00), 4_400_00, True),
     (Entry(fixed=4_400_00), 4_500_00, False), (Entry(), 1, True), (Entry(), 0, False), (Entry(), 12.5, False),
     (object(), 100, True)],
)
def test_amounts_are_checked_against_the_catalogue_entry(entry, amount, ok):
    assert (amount_problem(entry, amount) is None) is ok
