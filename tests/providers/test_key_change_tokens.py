"""Key change tokens (KCT1, KCT2): read from the providers' answers, in the order they are typed.

VTpass answers ``kct1``/``kct2`` beside the token, "N/A" when the meter needs none (IKEDC page,
pay and requery samples: https://www.vtpass.com/documentation/ikedc-ikeja-electricity-distribution-
company-payment-api/). Flutterwave documents no key change field; its answers give none here.
"""
from __future__ import annotations

import pytest

from webapp.providers import utility_service
from webapp.providers.redact import Redactor
from webapp.providers.tokens import key_change_tokens, parse_key_change_token
from webapp.providers.vtpass import reference_for
from webapp.sandbox import customers

from .contract import ADA_PREPAID

KCT1, KCT2 = "12345678901234567890", "09876543210987654321"
AMOUNT = 5_000_00


@pytest.mark.parametrize(("value", "expected"), [
    ("N/A", None), ("", None), (None, None), ("n/a", None), (True, None), ({"kct1": KCT1}, None),
    ("1234", None),  # not a token
    (KCT1, KCT1), ("1234 5678 9012 3456 7890", KCT1), ("1234-5678-9012-3456-7890", KCT1),
    ("KCT1 : 1234 5678 9012 3456 7890", KCT1), (int(KCT1), KCT1),
])
def test_one_key_change_token_is_its_digits_or_nothing(value, expected):
    assert parse_key_change_token(value) == expected


def test_documented_na_answer_has_no_key_change_tokens():
    assert key_change_tokens({"kct1": "N/A", "kct2": "N/A", "token": "Token : 26362054405982757802"}) == ()


def test_kct1_comes_before_kct2_whatever_the_field_order():
    assert key_change_tokens({"kct2": KCT2, "kct1": KCT1}) == (KCT1, KCT2)
    assert key_change_tokens({"KCT2": KCT2}, {"KCT1": KCT1}) == (KCT1, KCT2)


def test_key_change_tokens_in_a_nested_extra_object_are_found():
    assert key_change_tokens({"extra": {"kct1": KCT1, "kct2": KCT2}}) == (KCT1, KCT2)


def test_call_records_keep_only_the_last_four_digits_of_key_change_tokens():
    body = Redactor().body({"kct1": KCT1, "kct2": "N/A"})
    assert body == {"kct1": "***7890", "kct2": "N/A"}


@pytest.fixture
def vtpass(bills_config):
    service = utility_service("vtpass", bills_config)
    return service, next(i for i in service.get_utility_providers() if i.meter_type == "prepaid")


def test_vtpass_sandbox_key_change_meter_answers_kct1_kct2_with_the_token(vtpass):
    service, item = vtpass
    reference = reference_for()
    bought = service.purchase_utility(item, customers.KEY_CHANGE_METER, AMOUNT, reference)
    assert bought.status == "succeeded" and bought.token
    assert bought.key_change_tokens == customers.key_change_tokens_for(reference)
    assert bought.token not in bought.key_change_tokens
    # The requery carries them too, so a payment settled by a status check keeps them.
    assert service.query_status(reference).key_change_tokens == bought.key_change_tokens


def test_vtpass_sandbox_ordinary_meter_answers_na_and_has_none(vtpass):
    service, item = vtpass
    bought = service.purchase_utility(item, ADA_PREPAID, AMOUNT, reference_for())
    assert bought.token and bought.key_change_tokens == ()
    assert (bought.raw["kct1"], bought.raw["kct2"]) == ("N/A", "N/A")


def test_flutterwave_sandbox_key_change_meter_gives_the_token_only(bills_config):
    service = utility_service("flutterwave", bills_config)
    item = next(i for i in service.get_utility_providers() if i.meter_type == "prepaid")
    bought = service.purchase_utility(item, customers.KEY_CHANGE_METER, AMOUNT, reference_for())
    assert bought.key_change_tokens == ()
