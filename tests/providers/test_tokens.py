"""Token and units parsing: every field form PROVIDERS.md lists, digits only in the result."""
from decimal import Decimal

import pytest

from webapp.providers.tokens import parse_token, parse_units, token_and_units

TOKEN = "26362054764333554021"


@pytest.mark.parametrize(
    "value",
    [
        "Token : 2636 2054 7643 3355 4021",
        "Token: 2636-2054-7643-3355-4021",
        "TOKEN:26362054764333554021",
        "2636 2054 7643 3355 4021",
        "26362054764333554021",
        "Token : 2636 2054 7643 3355 4021 ; Units : 24.3 kWh",
        "Main Token: 2636 2054 7643 3355 4021, Units: 24.3",
        "Meter 1111111111111 token 2636 2054 7643 3355 4021",
        26362054764333554021,
        Decimal("26362054764333554021"),
    ],
)
def test_token_is_digits_only_whatever_the_spelling(value):
    assert parse_token(value) == TOKEN


@pytest.mark.parametrize("value", [None, "", "Token : ", "Token : null", "   ", False, "Units: 24.3 kWh"])
def test_no_token_when_the_field_holds_none(value):
    assert parse_token(value) is None


def test_meter_number_in_text_is_never_taken_for_a_token():
    assert parse_token("Meter 1111111111111 vended") is None


@pytest.mark.parametrize(
    ("answer", "units"),
    [
        ({"purchased_code": "Token : 2636 2054 7643 3355 4021", "units": "24.3 kWh"}, "24.3 kWh"),
        ({"token": "2636 2054 7643 3355 4021", "units": Decimal("24.3")}, "24.3"),
        ({"mainToken": TOKEN, "mainTokenUnits": Decimal("16.40")}, "16.40"),
        ({"Token": "2636 2054 7643 3355 4021", "Units": "12"}, "12"),
        ({"recharge_token": "2636 2054 7643 3355 4021", "units": 7}, "7"),
        ({"extra": "Token: 2636-2054-7643-3355-4021 Units: 32.5 kWh"}, "32.5 kWh"),
        ({"extra": {"token": "2636 2054 7643 3355 4021", "units": "5.5"}}, "5.5"),
        ({"recharge_token": None, "extra": {"Token": TOKEN, "Units": "1.0"}}, "1.0"),
    ],
)
def test_token_and_units_from_every_field_form(answer, units):
    assert token_and_units(answer) == (TOKEN, units)


def test_sources_are_searched_in_order_and_nested_levels_too():
    top = {"purchased_code": ""}
    content = {"transactions": {}}
    transaction = {"token": "Token : 2636 2054 7643 3355 4021", "units": "3.1"}
    assert token_and_units(top, content, transaction) == (TOKEN, "3.1")


def test_postpaid_answer_has_neither_token_nor_units():
    assert token_and_units({"purchased_code": "", "token": None}) == (None, None)


def test_units_keep_the_providers_words():
    assert parse_units(" 24.3 kWh ") == "24.3 kWh"
    assert parse_units(Decimal("10")) == "10"
    assert parse_units(None) is None
