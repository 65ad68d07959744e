"""A resident with a prepaid meter and a TV decoder, signed in: shared by the history and dashboard tests."""
import pytest

from .factories_payments import make_catalogue_entry, make_utility_account


@pytest.fixture
def power_entry(estate):
    return make_catalogue_entry(estate)


@pytest.fixture
def tv_entry(estate):
    return make_catalogue_entry(estate, name="DStv Compact", provider_type="cable_tv", provider_code="dstv",
                                item_code="dstv-compact", meter_type=None, label_name="Smart Card Number",
                                fee_kobo=0)


@pytest.fixture
def meter(resident, power_entry):
    return make_utility_account(resident, power_entry, "45012345678", nickname="Flat 3 meter")


@pytest.fixture
def decoder(resident, tv_entry):
    return make_utility_account(resident, tv_entry, "7023456789", nickname="Living room DStv")


@pytest.fixture
def logged_in(auth, resident):
    auth.login("ada@example.com")
    return auth.client
