"""VTpass request_id: Africa/Lagos YYYYMMDDHHII, then letters/digits."""
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine

from webapp.providers.vtpass import is_valid_request_id, make_request_id, reference_for


@time_machine.travel(datetime(2025, 3, 1, 23, 30, 5, tzinfo=UTC), tick=False)
def test_prefix_is_the_current_lagos_time_not_utc():
    # 23:30 UTC is already 00:30 the next day in Lagos (UTC+1).
    assert make_request_id("abc123") == "202503020030abc123"


def test_explicit_now_in_any_timezone_is_converted_to_lagos():
    new_york = timezone(timedelta(hours=-5))
    assert make_request_id("X1", now=datetime(2025, 6, 30, 19, 59, tzinfo=new_york)) == "202507010159X1"


def test_naive_now_is_taken_as_utc():
    assert make_request_id("Z", now=datetime(2025, 1, 1, 0, 0)) == "202501010100Z"


@pytest.mark.parametrize("suffix", ["", "abc-1", "ab c", "ref_1", "₦1"])
def test_suffix_must_be_letters_and_digits(suffix):
    with pytest.raises(ValueError):
        make_request_id(suffix)


@time_machine.travel(datetime(2025, 12, 31, 22, 59, tzinfo=UTC), tick=False)
def test_reference_for_builds_unique_valid_request_ids():
    refs = {reference_for() for _ in range(200)}
    assert len(refs) == 200
    for ref in refs:
        assert ref.startswith("202512312359")
        assert is_valid_request_id(ref)
        assert ref.isalnum() and len(ref) == 32


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("202503020030abc", True),
        ("202513020030abc", False),  # month 13
        ("202503020060abc", False),  # minute 60
        ("202503020030", False),  # no suffix
        ("20250302003abc", False),  # 11 digits
        ("202503020030ab-c", False),
        ("pay-123", False),
    ],
)
def test_request_id_shape_check(value, valid):
    assert is_valid_request_id(value) is valid
