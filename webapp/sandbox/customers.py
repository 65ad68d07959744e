"""The test customer numbers table (PROVIDERS.md, "The sandbox"), identical for every bills provider.

``lookup(number)`` turns a customer number into a ``Customer`` whose ``scenario`` drives validation
and the purchase/status outcome. Names, addresses, tokens and units are derived from the number or
the reference with a hash, so the same input always gives the same answer.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREPAID_ADA = "1111111111111"
POSTPAID_OUTSTANDING = "1010101010101"
PENDING_THEN_SUCCESS = "2010000000000"
TIMEOUT_PROCESSED = "3000000000000"
TIMEOUT_FIRST_NO_RECORD = "3000000000001"
UNAVAILABLE_FIRST_THREE = "4000000000000"
METER_BLOCKED = "5000000000000"
TOKEN_LATER = "6000000000000"
TOKEN_NEVER = "6000000000001"
KEY_CHANGE_METER = "7000000000000"
NOT_FOUND = "9999999999999"

POSTPAID_OUTSTANDING_KOBO = 12_500_00

# Scenarios (what the table says happens).
SUCCESS = "success"  # succeeds at once
PENDING = "pending"  # pending, resolves to success on the 2nd status query
TIMEOUT_AFTER_PROCESSING = "timeout_processed"
TIMEOUT_FIRST_UNPROCESSED = "timeout_first_unprocessed"
UNAVAILABLE_FIRST_3 = "unavailable_first_3"
BLOCKED = "blocked"
TOKEN_ON_SECOND_CHECK = "token_later"  # paid without a token; the token comes on the 2nd status check
TOKEN_NOT_COMING = "token_never"  # paid without a token; no status check ever carries one
# Paid at once with the token and two key change tokens (VTpass ``kct1``/``kct2``; Flutterwave
# documents no such field, so its answers carry the token alone).
KEY_CHANGE = "key_change"
UNKNOWN = "not_found"
INVALID = "invalid"

_SCENARIOS = {
    PENDING_THEN_SUCCESS: PENDING,
    TIMEOUT_PROCESSED: TIMEOUT_AFTER_PROCESSING,
    TIMEOUT_FIRST_NO_RECORD: TIMEOUT_FIRST_UNPROCESSED,
    UNAVAILABLE_FIRST_THREE: UNAVAILABLE_FIRST_3,
    METER_BLOCKED: BLOCKED,
    TOKEN_LATER: TOKEN_ON_SECOND_CHECK,
    TOKEN_NEVER: TOKEN_NOT_COMING,
    NOT_FOUND: UNKNOWN,
}

# Random faults (the fault_rate knob) only touch numbers whose scripted outcome is plain success,
# so the scripted rows of the table stay exactly as documented whatever the knobs say.
FAULT_ELIGIBLE = frozenset({SUCCESS})

_FIRST = ("Chinedu", "Ngozi", "Tunde", "Aisha", "Emeka", "Funmi", "Ibrahim", "Kemi", "Obinna", "Zainab",
          "Segun", "Amaka", "Yusuf", "Bisi", "Ifeanyi", "Halima")
_LAST = ("Okonkwo", "Adeyemi", "Balogun", "Eze", "Bello", "Nwosu", "Ogunleye", "Danjuma", "Okeke",
         "Adebayo", "Lawal", "Uche", "Afolabi", "Musa", "Obi", "Ajayi")
_STREETS = ("Admiralty Way, Lekki", "Allen Avenue, Ikeja", "Adeola Odeku Street, Victoria Island",
            "Opebi Road, Ikeja", "Herbert Macaulay Way, Yaba", "Awolowo Road, Ikoyi", "Bode Thomas Street, Surulere")


@dataclass(frozen=True)
class Customer:
    number: str
    scenario: str
    name: str | None = None
    address: str | None = None
    meter_type: str | None = None  # the meter's own nature when the table fixes it
    outstanding_kobo: int | None = None

    @property
    def is_valid(self) -> bool:
        return self.scenario not in (UNKNOWN, INVALID)


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def _generated(number: str, scenario: str) -> Customer:
    h = _digest(number)
    name = f"{_FIRST[h % len(_FIRST)]} {_LAST[(h >> 8) % len(_LAST)]}"
    address = f"{(h >> 16) % 200 + 1} {_STREETS[(h >> 24) % len(_STREETS)]}, Lagos"
    return Customer(number, scenario, name=name, address=address)


def normalise(number: object) -> str:
    return str(number if number is not None else "").strip()


def lookup(number: object) -> Customer:
    """What the sandbox knows about a customer/meter/smart-card/account number."""
    number = normalise(number)
    if number == PREPAID_ADA:
        return Customer(number, SUCCESS, name="Ada Okafor", address="12 Admiralty Way, Lekki Phase 1, Lagos",
                        meter_type="prepaid")
    if number == POSTPAID_OUTSTANDING:
        return Customer(number, SUCCESS, name="Emeka Nwosu", address="4 Allen Avenue, Ikeja, Lagos",
                        meter_type="postpaid", outstanding_kobo=POSTPAID_OUTSTANDING_KOBO)
    if number == NOT_FOUND:
        return Customer(number, UNKNOWN)
    if number in (TOKEN_LATER, TOKEN_NEVER):
        return Customer(number, _SCENARIOS[number], name="Tobi Adeleke", address="7 Bourdillon Road, Ikoyi, Lagos",
                        meter_type="prepaid")
    if number == KEY_CHANGE_METER:
        return Customer(number, KEY_CHANGE, name="Musa Danjuma", address="3 Ahmadu Bello Way, Kaduna",
                        meter_type="prepaid")
    if not (number.isascii() and number.isdigit() and 10 <= len(number) <= 13):
        return Customer(number, INVALID)
    return _generated(number, _SCENARIOS.get(number, SUCCESS))


def gets_token(customer: Customer, product) -> bool:
    """Prepaid electricity vends a token; the postpaid test account never gets one."""
    if product.utility_type != "electricity" or customer.number == POSTPAID_OUTSTANDING:
        return False
    return product.meter_type == "prepaid" or customer.meter_type == "prepaid"


def token_for(reference: str) -> str:
    """A 20-digit token, fixed for a reference."""
    return f"{_digest('token:' + reference) % 10**20:020d}"


def key_change_tokens_for(reference: str) -> tuple[str, str]:
    """KCT1 and KCT2 (20 digits each), fixed for a reference."""
    return (f"{_digest('kct1:' + reference) % 10**20:020d}", f"{_digest('kct2:' + reference) % 10**20:020d}")


def group_token(token: str) -> str:
    return " ".join(token[i:i + 4] for i in range(0, len(token), 4))


TARIFF_KOBO_PER_KWH = 209_50  # ₦209.50 per kWh


def units_for(amount_kobo: int) -> str:
    """kWh bought for an amount, one decimal, computed in integers (e.g. "4.7")."""
    tenths = amount_kobo * 10 // TARIFF_KOBO_PER_KWH
    return f"{tenths // 10}.{tenths % 10}"
