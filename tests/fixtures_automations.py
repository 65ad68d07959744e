"""A clock stopped on a Friday morning and two electricity entries: shared by the automation pages
and upcoming-payments tests, whose schedules are counted from ``NOW``."""
from datetime import UTC, datetime

import pytest
import time_machine

from .factories_payments import make_catalogue_entry

# Friday 10 January 2025, 09:00 in Lagos (UTC+1).
NOW = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def prepaid(estate):
    return make_catalogue_entry(estate)  # ₦500 to ₦500,000, ₦100 fee


@pytest.fixture
def postpaid(estate):
    return make_catalogue_entry(estate, name="Ikeja Electric Postpaid", item_code="postpaid", meter_type="postpaid")


@pytest.fixture
def water(estate):
    return make_catalogue_entry(estate, name="Lagos Water", provider_type="water", provider_code="lagos-water",
                                item_code="water", meter_type=None)  # ₦500 to ₦500,000, ₦100 fee
