"""Payout accounts and payouts as tests need them, written straight to the database (no gateway)."""
from __future__ import annotations

import factory

from webapp.infra import crypto
from webapp.models import Payout, PayoutAccount

from .factories import CommittedFactory


class PayoutAccountFactory(CommittedFactory):
    """A resolved Paystack payout account (the sandbox's "success" number, 0690000031)."""

    class Meta:
        model = PayoutAccount

    gateway = "paystack"
    bank_code = "058"
    bank_name = "Guaranty Trust Bank"
    account_number = "0690000031"
    number_hash = factory.LazyAttribute(lambda o: crypto.lookup_hash(o.account_number))
    last4 = factory.LazyAttribute(lambda o: o.account_number[-4:])
    account_name = "ADEBOLA ESTATE SERVICES LTD"
    recipient_code = factory.Sequence(lambda n: f"RCP_test{n:06d}")


class PayoutFactory(CommittedFactory):
    """A payout waiting for approval."""

    class Meta:
        model = Payout

    reference = factory.Sequence(lambda n: f"payout_test_{n:012d}")
    gateway = factory.LazyAttribute(lambda o: o.account.gateway)
    amount_kobo = 50_000_00
    narration = "Security company, June invoice"
    status = "requested"


def make_payout_account(estate, added_by, **fields) -> PayoutAccount:
    return PayoutAccountFactory(estate_id=estate.id, added_by_id=added_by.id, **fields)


def make_payout(account: PayoutAccount, requested_by, **fields) -> Payout:
    return PayoutFactory(account=account, estate_id=account.estate_id, payout_account_id=account.id,
                         requested_by_id=requested_by.id, requested_role=requested_by.acting_role, **fields)
