"""Contract: both bills clients against the sandbox, every row of the PROVIDERS.md test numbers table.

Each purchase is followed to the provider's final truth through status queries, the way the
payment janitor will: an unknown outcome is never taken as failed, and a reference is resent only
after the provider said it has no record of it.
"""
from datetime import UTC, datetime, timedelta

import pytest

from webapp.providers import ErrorClass, PaymentErrorType, PurchaseKeys, utility_service

from .conftest import Item
from .contract import (
    ADA_PREPAID,
    ANY_OTHER,
    METER_BLOCKED,
    NOT_A_CUSTOMER,
    PENDING_THEN_SUCCESS,
    POSTPAID_OUTSTANDING,
    TIMEOUT_BUT_PROCESSED,
    TIMEOUT_NO_RECORD,
    UNAVAILABLE_THREE_TIMES,
    pick,
    raises,
)

AMOUNT = 5_000_00  # ₦5,000.00

# -- catalogue -------------------------------------------------------------------------------------


def test_catalogue_offers_every_utility_type(catalogue, provider):
    assert {item.utility_type for item in catalogue} == {"electricity", "water", "internet", "cable_tv"}
    assert all(item.api_provider == provider for item in catalogue)


def test_catalogue_electricity_items_say_prepaid_or_postpaid(catalogue):
    meters = {item.meter_type for item in catalogue if item.utility_type == "electricity"}
    assert meters == {"prepaid", "postpaid"}


def test_catalogue_amounts_are_kobo(catalogue):
    plan = pick(catalogue, "cable_tv", fixed=True)
    assert plan.fixed_amount_kobo > 0 and plan.fixed_amount_kobo % 100 == 0
    flexible = pick(catalogue, "electricity", "prepaid")
    assert flexible.fixed_amount_kobo == 0
    assert flexible.min_amount_kobo == 500_00
    assert flexible.max_amount_kobo == 500_000_00


def test_flutterwave_three_step_catalogue_matches_the_flat_one(bills_config):
    service = utility_service("flutterwave", bills_config)
    flat = {(i.provider_code, i.item_code, i.utility_type) for i in service.get_utility_providers()}
    three_step = {(i.provider_code, i.item_code, i.utility_type)
                  for i in service.get_utility_providers(form="three_step")}
    assert three_step == flat


# -- validation ------------------------------------------------------------------------------------


def test_valid_prepaid_meter_is_ada_okafor(service, prepaid):
    info = service.validate_customer(prepaid, ADA_PREPAID)
    assert (info.customer_id, info.name, info.meter_type) == (ADA_PREPAID, "Ada Okafor", "prepaid")
    assert info.address
    assert (info.min_amount_kobo, info.max_amount_kobo) == (500_00, 500_000_00)


def test_postpaid_account_reports_what_is_outstanding(service, postpaid):
    info = service.validate_customer(postpaid, POSTPAID_OUTSTANDING)
    assert info.meter_type == "postpaid"
    assert info.outstanding_kobo == 12_500_00


def test_get_customer_info_is_the_same_lookup(service, prepaid):
    assert service.get_customer_info(prepaid, ADA_PREPAID).name == "Ada Okafor"


@pytest.mark.parametrize("number", [PENDING_THEN_SUCCESS, TIMEOUT_BUT_PROCESSED, TIMEOUT_NO_RECORD,
                                    UNAVAILABLE_THREE_TIMES, METER_BLOCKED, ANY_OTHER])
def test_other_table_numbers_validate(service, prepaid, number):
    info = service.validate_customer(prepaid, number)
    assert info.name and info.customer_id == number


def test_unknown_customer_is_a_permanent_invalid_customer_id(service, prepaid):
    error = raises(service.validate_customer, prepaid, NOT_A_CUSTOMER)
    assert (error.error_type, error.error_class) == (PaymentErrorType.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT)
    assert error.message


def sent(reference: str) -> PurchaseKeys:
    """Keys of a purchase sent just now (the sandbox tests run with no listing lag)."""
    return PurchaseKeys(reference, last_sent_at=datetime.now(UTC))


# -- purchases to the final truth ------------------------------------------------------------------


def test_prepaid_purchase_succeeds_with_a_token_and_units(service, prepaid, reference):
    result = service.purchase_utility(prepaid, ADA_PREPAID, AMOUNT, reference, phone="08030000000")
    assert (result.status, result.reference, result.amount_kobo) == ("succeeded", reference, AMOUNT)
    assert result.token and result.token.isdigit() and len(result.token) == 20
    assert bool(result.units) == (result.request_id is not None)  # VTpass says units; Flutterwave's pay answer does not
    assert result.provider_reference
    status = service.query_status(reference)
    assert (status.status, status.token) == ("succeeded", result.token)


def test_postpaid_purchase_succeeds_without_a_token(service, postpaid, reference):
    result = service.purchase_utility(postpaid, POSTPAID_OUTSTANDING, 12_500_00, reference)
    assert (result.status, result.token) == ("succeeded", None)
    assert service.query_status(reference).status == "succeeded"


def test_pending_purchase_resolves_to_success_on_the_second_status_query(service, prepaid, reference):
    assert service.purchase_utility(prepaid, PENDING_THEN_SUCCESS, AMOUNT, reference).status == "pending"
    assert service.query_status(reference).status == "pending"
    final = service.query_status(reference)
    assert final.status == "succeeded" and final.token


def test_timed_out_purchase_is_unknown_and_status_finds_it_succeeded(service, prepaid, reference):
    error = raises(service.purchase_utility, prepaid, TIMEOUT_BUT_PROCESSED, AMOUNT, reference)
    assert error.error_class is ErrorClass.OUTCOME_UNKNOWN
    assert error.error_type is PaymentErrorType.TIMEOUT_ERROR
    status = service.query_status(reference)
    assert status.status == "succeeded" and status.token


def test_timed_out_purchase_with_no_record_can_be_resent_under_the_same_reference(service, prepaid, reference):
    error = raises(service.purchase_utility, prepaid, TIMEOUT_NO_RECORD, AMOUNT, reference)
    assert error.error_class is ErrorClass.OUTCOME_UNKNOWN
    assert service.query_status(sent(reference)).status == "not_found"
    resent = service.purchase_utility(prepaid, TIMEOUT_NO_RECORD, AMOUNT, reference)
    assert resent.status == "succeeded"
    assert service.query_status(reference).status == "succeeded"


def test_three_503s_then_no_record_then_a_resend_succeeds(service, prepaid, reference):
    first = raises(service.purchase_utility, prepaid, UNAVAILABLE_THREE_TIMES, AMOUNT, reference)
    assert (first.error_class, first.http_status) == (ErrorClass.OUTCOME_UNKNOWN, 503)
    if service.api_provider == "vtpass":
        for _ in range(2):  # calls 2 and 3 are status queries: reads, so transient
            error = raises(service.query_status, reference)
            assert (error.error_class, error.http_status) == (ErrorClass.TRANSIENT, 503)
    else:  # Flutterwave: no tx_ref, so the bill listing is asked (it is not one of the script's calls)
        for _ in range(2):
            assert service.query_status(sent(reference)).status == "not_found"
            raises(service.purchase_utility, prepaid, UNAVAILABLE_THREE_TIMES, AMOUNT, reference)
    assert service.query_status(sent(reference)).status == "not_found"
    assert service.purchase_utility(prepaid, UNAVAILABLE_THREE_TIMES, AMOUNT, reference).status == "succeeded"


def test_blocked_meter_fails_permanently_and_status_says_failed(service, prepaid, reference):
    error = raises(service.purchase_utility, prepaid, METER_BLOCKED, AMOUNT, reference)
    assert error.error_class is ErrorClass.PERMANENT
    assert "blocked" in error.message.lower()
    assert service.query_status(reference).status == "failed"


def test_purchase_for_an_unknown_customer_fails_permanently(service, prepaid, reference):
    error = raises(service.purchase_utility, prepaid, NOT_A_CUSTOMER, AMOUNT, reference)
    assert error.error_class is ErrorClass.PERMANENT


def test_any_other_number_succeeds(service, prepaid, reference):
    assert service.purchase_utility(prepaid, ANY_OTHER, AMOUNT, reference).status == "succeeded"


def test_unknown_reference_status_is_not_found(service, reference):
    assert service.query_status(sent(reference)).status == "not_found"


def test_flutterwave_listing_must_wait_out_its_lag_before_saying_no_record(bills_config, reference):
    service = utility_service("flutterwave", {**bills_config, "FLUTTERWAVE_RECORD_LAG_SECONDS": 600})
    assert service.query_status(sent(reference)).status == "unconfirmed"


def test_flutterwave_listing_with_only_a_summary_never_says_no_record(sandbox, bills_config, reference):
    sandbox.configure(flw_listing_items=False)  # the shape of Flutterwave's published sample
    service = utility_service("flutterwave", bills_config)
    result = service.query_status(PurchaseKeys(reference, last_sent_at=datetime.now(UTC) - timedelta(days=1)))
    assert result.status == "unconfirmed"


def test_flutterwave_status_by_our_reference_is_not_found_but_the_listing_finds_the_bill(bills_config, prepaid,
                                                                                        reference):
    service = utility_service("flutterwave", bills_config)
    paid = service.purchase_utility(pick(service.get_utility_providers(), "electricity", "prepaid"), ADA_PREPAID,
                                    AMOUNT, reference)
    found = service.query_status(sent(reference))  # no tx_ref given: our reference, then the listing
    assert (found.status, found.refs["tx_ref"]) == ("succeeded", paid.refs["tx_ref"])


# -- amounts, plans, duplicates -------------------------------------------------------------------


@pytest.mark.parametrize("amount", [499_00, 500_001_00])
def test_provider_refuses_an_amount_outside_its_bounds_permanently(service, prepaid, reference, amount):
    bare = Item(prepaid.provider_code, prepaid.item_code, prepaid.meter_type)  # no bounds known to the client
    error = raises(service.purchase_utility, bare, ADA_PREPAID, amount, reference)
    assert (error.error_type, error.error_class) == (PaymentErrorType.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT)
    assert error.http_status is not None  # the provider said so


@pytest.mark.parametrize("amount", [499_99, 500_000_01, 0, -100])
def test_amount_outside_the_catalogue_bounds_is_refused_before_any_request(provider, bills_config, prepaid,
                                                                          reference, amount):
    calls = []
    service = utility_service(provider, bills_config, call_logger=calls.append)
    error = raises(service.purchase_utility, prepaid, ADA_PREPAID, amount, reference)
    assert (error.error_type, error.error_class) == (PaymentErrorType.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT)
    assert calls == []


def test_fixed_price_plan_is_bought_at_its_price(service, catalogue, reference):
    plan = pick(catalogue, "cable_tv", fixed=True)
    result = service.purchase_utility(plan, "7027914329", plan.fixed_amount_kobo, reference)
    assert (result.status, result.amount_kobo, result.token) == ("succeeded", plan.fixed_amount_kobo, None)


def test_water_bill_with_kobo_is_paid_exactly_where_the_provider_takes_kobo(service, catalogue, reference):
    water = pick(catalogue, "water")
    if service.api_provider == "flutterwave":  # its OpenAPI types the amount as an integer of naira
        error = raises(service.purchase_utility, water, "0123456789", 1_234_56, reference)
        assert error.error_type is PaymentErrorType.AMOUNT_OUT_OF_RANGE and "whole naira" in error.message
        return
    result = service.purchase_utility(water, "0123456789", 1_234_56, reference)
    assert (result.status, result.amount_kobo) == ("succeeded", 1_234_56)


def test_reusing_a_reference_is_a_duplicate_whose_outcome_must_be_queried(service, prepaid, reference):
    service.purchase_utility(prepaid, ADA_PREPAID, AMOUNT, reference)
    error = raises(service.purchase_utility, prepaid, ADA_PREPAID, AMOUNT, reference)
    assert (error.error_type, error.error_class) == (PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN)


def test_low_merchant_balance_is_transient(sandbox, service, prepaid, reference):
    sandbox.configure(merchant_balance_kobo=1_000_00)
    error = raises(service.purchase_utility, prepaid, ADA_PREPAID, AMOUNT, reference)
    assert error.error_class is ErrorClass.TRANSIENT
    sandbox.configure(merchant_balance_kobo=None)
    assert service.purchase_utility(prepaid, ADA_PREPAID, AMOUNT, reference).status == "succeeded"
