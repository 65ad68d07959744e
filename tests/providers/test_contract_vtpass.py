"""Contract: VTpass-only behaviour against the sandbox (request_id rule, 019 window, call headers)."""
from datetime import UTC, datetime, timedelta

from webapp.providers import ErrorClass, PaymentErrorType, ProviderCall, utility_service
from webapp.providers.vtpass import make_request_id, reference_for

from .contract import ADA_PREPAID, raises

AMOUNT = 5_000_00


def test_request_id_dated_another_day_is_refused_and_left_to_a_requery(bills_config):
    # 085 "DATE NOT TODAY'S DATE" (vtpass.com/documentation/response-codes): nothing was processed,
    # but the lifecycle must ask about the request_id before sending under a new one.
    service = utility_service("vtpass", bills_config)
    item = next(i for i in service.get_utility_providers() if i.meter_type == "prepaid")
    stale = make_request_id("abc123", now=datetime.now(UTC) - timedelta(days=1))
    error = raises(service.purchase_utility, item, ADA_PREPAID, AMOUNT, stale)
    assert (error.error_type, error.error_class) == (PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN)
    assert "085" in error.detail
    assert service.query_status(stale).status == "not_found"


def test_same_meter_twice_within_the_window_is_a_likely_duplicate_to_retry_later(sandbox, bills_config):
    sandbox.configure(duplicate_window=30)
    service = utility_service("vtpass", bills_config)
    item = next(i for i in service.get_utility_providers() if i.meter_type == "prepaid")
    service.purchase_utility(item, ADA_PREPAID, AMOUNT, reference_for())
    error = raises(service.purchase_utility, item, ADA_PREPAID, AMOUNT, reference_for())
    assert (error.error_type, error.error_class, error.retry_after) == (PaymentErrorType.RATE_LIMITED,
                                                                        ErrorClass.TRANSIENT, 30.0)


def test_every_call_is_logged_without_keys(bills_config):
    calls: list[ProviderCall] = []
    service = utility_service("vtpass", bills_config, call_logger=calls.append)
    item = next(i for i in service.get_utility_providers() if i.meter_type == "prepaid")
    service.validate_customer(item, ADA_PREPAID)
    service.purchase_utility(item, ADA_PREPAID, AMOUNT, reference_for())
    operations = [c.operation for c in calls]
    assert operations[-2:] == ["validate", "purchase"] and set(operations[:-2]) == {"catalogue"}
    assert all(c.http_status == 200 for c in calls)
    text = repr(calls)
    for name in ("VTPASS_API_KEY", "VTPASS_SECRET_KEY", "VTPASS_PUBLIC_KEY"):
        assert bills_config[name] not in text
