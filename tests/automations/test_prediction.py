"""Bill amount prediction from an account's own past bills (automations.prediction)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.services.automations.prediction import BillEstimate, bills_from_payments, estimate


def test_no_bill_no_estimate():
    assert estimate([]) is None
    assert estimate([0]) is None


def test_steady_bills_give_a_narrow_range_and_say_so():
    found = estimate([10_000_00, 10_200_00, 9_900_00, 10_100_00, 10_000_00, 9_800_00])
    assert found.low_kobo == 9_800_00 and found.high_kobo == 10_200_00
    assert 9_950_00 <= found.expected_kobo <= 10_100_00
    assert found.confidence == "steady"
    assert found.words == "Expected from your last 6 bills (₦9,800–₦10,200; steady)"


def test_irregular_bills_give_a_wide_range():
    found = estimate([4_000_00, 15_000_00, 6_000_00, 12_000_00])
    assert (found.low_kobo, found.high_kobo) == (4_000_00, 15_000_00)
    assert found.confidence == "varies"


def test_too_few_bills_give_a_margin_and_a_warning():
    found = estimate([8_000_00])
    assert found == BillEstimate(expected_kobo=8_000_00, low_kobo=5_600_00, high_kobo=10_400_00, bills=1)
    assert found.confidence == "few bills"
    assert "your last bill" in found.words and "rough guess" in found.words


def test_a_change_in_usage_shows_within_a_few_bills():
    """Six bills of ₦5,000, then three of ₦10,000 (a new air conditioner): the estimate is already
    nearer the new level than the plain mean (₦6,667), and the range reaches it."""
    found = estimate([10_000_00] * 3 + [5_000_00] * 6)
    assert found.expected_kobo > 7_000_00
    assert found.high_kobo == 10_000_00
    plain_mean = (3 * 10_000_00 + 6 * 5_000_00) / 9
    assert found.expected_kobo > plain_mean


def test_estimates_are_whole_naira_and_inside_their_range():
    found = estimate([7_333_33, 7_111_11, 9_999_99])
    assert found.expected_kobo % 100 == 0
    assert found.low_kobo <= found.expected_kobo <= found.high_kobo


def test_only_the_latest_twelve_bills_count():
    assert estimate([1_000_00] * 12 + [900_000_00]).expected_kobo == 1_000_00


@pytest.mark.parametrize("gap, bills", [(timedelta(days=1), [8_000_00]), (timedelta(days=30), [3_000_00, 5_000_00])])
def test_payments_days_apart_are_parts_of_one_bill(gap, bills):
    later = datetime(2025, 1, 14, tzinfo=UTC)
    assert bills_from_payments([(later, 3_000_00), (later - gap, 5_000_00)]) == bills
