"""Shared helpers for the contract tests against the provider sandbox (real HTTP)."""
from __future__ import annotations

import pytest

from webapp.providers import CatalogueItem, ProviderError

# Clients give up after READ_TIMEOUT; the sandbox holds a "timeout" for HOLD, then closes.
READ_TIMEOUT = 0.5
HOLD = 1.0

# The PROVIDERS.md test numbers.
ADA_PREPAID = "1111111111111"
POSTPAID_OUTSTANDING = "1010101010101"
PENDING_THEN_SUCCESS = "2010000000000"
TIMEOUT_BUT_PROCESSED = "3000000000000"
TIMEOUT_NO_RECORD = "3000000000001"
UNAVAILABLE_THREE_TIMES = "4000000000000"
METER_BLOCKED = "5000000000000"
NOT_A_CUSTOMER = "9999999999999"
ANY_OTHER = "08123456789"


def pick(catalogue: list[CatalogueItem], utility_type: str, meter_type: str | None = None,
         fixed: bool | None = None) -> CatalogueItem:
    for item in catalogue:
        if item.utility_type != utility_type or (meter_type and item.meter_type != meter_type):
            continue
        if fixed is not None and bool(item.fixed_amount_kobo) != fixed:
            continue
        return item
    raise AssertionError(f"no {utility_type} {meter_type or ''} item in the catalogue")


def raises(call, *args, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call(*args, **kwargs)
    return caught.value
