"""The one way to read a number from a request: ids, counts, pages, naira, the form fields and the
URL converter. ASCII digits only, bounded length and value, a clear message otherwise."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from webapp.forms import NairaField
from webapp.request_numbers import (
    MAX_AMOUNT_KOBO,
    MAX_ID,
    CountField,
    IdField,
    coerce_id,
    parse_count,
    parse_id,
    parse_naira,
    parse_page,
    register,
)

NOT_ASCII_DIGITS = ["²", "٣", "١٢", "１２", "߃", "1²"]  # superscript, Arabic-Indic, full-width, NKo


@pytest.mark.parametrize("value, expected", [("1", 1), ("42", 42), (" 7 ", 7), ("007", 7), (str(MAX_ID), MAX_ID),
                                             (12, 12)])
def test_an_id_is_ascii_digits_from_one_to_the_column_maximum(value, expected):
    assert parse_id(value) == expected


@pytest.mark.parametrize("value", [*NOT_ASCII_DIGITS, "", " ", "0", "-1", "+1", "1.0", "1e3", "0x10", "1_000",
                                   str(MAX_ID + 1), "9" * 11, "9" * 5000, "99999999999999999999", "1\x00", None,
                                   True, 0, MAX_ID + 1, 1.0, ["1"]])
def test_anything_else_is_not_an_id(value):
    assert parse_id(value) is None


def test_a_count_is_bounded_and_takes_a_sign_only_when_it_may_be_negative():
    assert parse_count("-1", -1, 4) == -1
    assert parse_count("4", -1, 4) == 4
    assert parse_count("5", -1, 4) is None
    assert parse_count("-0", 0, 6) is None
    assert parse_count("9" * 19, 0, 10**30) is None  # more digits than any count
    for text in NOT_ASCII_DIGITS:
        assert parse_count(text, 0, 10**6) is None


@pytest.mark.parametrize("value, expected", [(None, 1), ("", 1), ("3", 3), ("²", 1), ("0", 1), ("-2", 1),
                                             ("99999999999999999999", 1), ("1e3", 1)])
def test_a_page_number_that_is_not_sensible_is_the_first_page(value, expected):
    assert parse_page(value) == expected


def test_coerce_id_raises_the_message_wtforms_shows():
    assert coerce_id("5") == 5
    with pytest.raises(ValueError, match="Choose one of the options"):
        coerce_id("²")


# --- naira ---------------------------------------------------------------------------------------

def test_the_largest_amount_is_accepted_and_one_kobo_more_is_not():
    assert MAX_AMOUNT_KOBO == 100_000_000_00 < 2**63 - 1
    assert parse_naira("100,000,000") == MAX_AMOUNT_KOBO
    with pytest.raises(ValueError, match=r"^Enter an amount up to ₦100,000,000\.00\.$"):
        parse_naira("100,000,000.01")


@pytest.mark.parametrize("text", ["99999999999999999999", "9" * 5000, "1" + "0" * 30, "123,456,789,012",
                                  "000000000000000000000000000000000000000000001000000000"])
def test_an_amount_too_large_for_the_business_says_the_limit(text):
    with pytest.raises(ValueError, match="up to ₦100,000,000.00"):
        parse_naira(text)


def test_leading_zeros_do_not_count_towards_the_limit():
    assert parse_naira("0000000000000000000000005000") == 5_000_00


@pytest.mark.parametrize("text", [*NOT_ASCII_DIGITS, "1e309", "1e3", "NaN", "Infinity", "5000\x00", "5 000",
                                  "😀", "x" * 5000])
def test_an_amount_in_anything_but_ascii_digits_is_refused(text):
    with pytest.raises(ValueError, match="numbers only"):
        parse_naira(text)


def test_a_lower_maximum_can_be_asked_for():
    assert parse_naira("500", maximum=500_00) == 500_00
    with pytest.raises(ValueError, match="up to ₦500.00"):
        parse_naira("500.01", maximum=500_00)


# --- form fields ---------------------------------------------------------------------------------

class _Form(FlaskForm):
    class Meta:
        csrf = False

    amount = NairaField("Amount")
    account = IdField()
    kobo = CountField(low=1, high=MAX_AMOUNT_KOBO)


@pytest.fixture
def request_context():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    with app.test_request_context():
        yield


def test_a_naira_field_above_the_limit_keeps_what_was_typed(request_context):
    form = _Form(formdata=MultiDict({"amount": "99999999999999999999", "account": "3", "kobo": "500"}))
    assert not form.validate()
    assert form.errors == {"amount": ["Enter an amount up to ₦100,000,000.00."]}
    assert 'value="99999999999999999999"' in form.amount()
    assert (form.account.data, form.kobo.data) == (3, 500)


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_naira_field_asks_for_an_amount_unless_it_is_optional(request_context, text):
    class Amounts(FlaskForm):
        class Meta:
            csrf = False

        required = NairaField("Amount")
        optional = NairaField("Cap", optional=True)
        nothing_is_zero = NairaField("Minimum", optional=True, empty=0, zero_is_empty=True)

    form = Amounts(formdata=MultiDict({"required": text, "optional": text, "nothing_is_zero": "₦0.00"}))
    assert not form.validate()
    assert form.errors == {"required": ["Enter an amount in naira, like 5000 or 5,000.50."]}
    assert (form.required.data, form.optional.data, form.nothing_is_zero.data) == (None, None, 0)


def test_an_optional_naira_field_still_refuses_what_is_not_an_amount(request_context):
    class Cap(FlaskForm):
        class Meta:
            csrf = False

        cap = NairaField("Cap", optional=True)

    form = Cap(formdata=MultiDict({"cap": "0"}))
    assert not form.validate() and form.errors == {"cap": ["Enter an amount greater than ₦0."]}
    assert 'value="0"' in form.cap()


@pytest.mark.parametrize("text", ["²", "0", "-4", "99999999999999999999", "abc"])
def test_id_and_count_fields_refuse_what_is_not_one_and_keep_it(request_context, text):
    form = _Form(formdata=MultiDict({"amount": "5000", "account": text, "kobo": text}))
    assert not form.validate()
    assert set(form.errors) == {"account", "kobo"}
    assert form.account.data is None and form.kobo.data is None
    assert f'value="{text}"' in form.account()


def test_an_empty_id_field_is_none_without_an_error(request_context):
    form = _Form(formdata=MultiDict({"amount": "5000"}))
    assert form.validate()
    assert form.account.data is None


# --- URLs ----------------------------------------------------------------------------------------

@pytest.fixture
def numbered_app() -> Flask:
    app = Flask(__name__)
    register(app)

    @app.route("/things/<int:thing_id>")
    def thing(thing_id: int):
        return str(thing_id)

    return app


@pytest.mark.parametrize("path", ["/things/%C2%B2", "/things/%D9%A3", "/things/%EF%BC%91", "/things/-1",
                                  "/things/99999999999", "/things/99999999999999999999", "/things/" + "9" * 5000,
                                  "/things/1e3", "/things/%00"])
def test_the_url_converter_answers_404_for_what_is_not_an_ascii_id(numbered_app, path):
    assert numbered_app.test_client().get(path).status_code == 404


def test_the_url_converter_reads_ascii_ids(numbered_app):
    client = numbered_app.test_client()
    assert client.get("/things/12").get_data(as_text=True) == "12"
    assert client.get(f"/things/{MAX_ID}").get_data(as_text=True) == str(MAX_ID)
    with numbered_app.test_request_context():
        from flask import url_for

        assert url_for("thing", thing_id=12) == "/things/12"
