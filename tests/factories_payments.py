"""Factories for issue 4 test data: catalogue entries, utility accounts and payments.

They write rows directly (no provider calls, no ledger postings), for tests of what pages show
and who may see what. A test of the money path must go through the payments service instead.
Each factory commits, so workers and other sessions can see the rows.
"""
from __future__ import annotations

import itertools
from datetime import datetime

from webapp.extensions import db
from webapp.infra import crypto
from webapp.models import Estate, Payment, PaymentStatus, User, UtilityAccount, UtilityProvider
from webapp.models.base import utcnow
from webapp.providers.vtpass_codes import make_request_id

_seq = itertools.count(1)


def make_catalogue_entry(estate: Estate, **fields) -> UtilityProvider:
    """An active catalogue entry of ``estate``; by default Ikeja Electric prepaid through VTpass.

    The defaults are codes the sandbox knows, so validation and purchases work against it. A second
    entry in the same estate needs another ``provider_code``/``item_code`` (they are unique per estate).
    """
    values = {
        "name": "Ikeja Electric Prepaid", "provider_type": "electricity", "api_provider": "vtpass",
        "provider_code": "ikeja-electric", "item_code": "prepaid", "biller_name": "Ikeja Electric",
        "meter_type": "prepaid", "label_name": "Meter Number", "min_amount_kobo": 500_00,
        "max_amount_kobo": 500_000_00, "fee_kobo": 100_00, "supports_validation": True, "is_active": True,
        **fields,
    }
    entry = UtilityProvider(estate_id=estate.id, **values)
    db.session.add(entry)
    db.session.commit()
    return entry


def make_utility_account(user: User, entry: UtilityProvider, number: str = "1111111111111",
                         **fields) -> UtilityAccount:
    """A linked account as if validation had succeeded (encrypted number, lookup hash, last four)."""
    normalised = crypto.normalise_number(number)
    values = {
        "nickname": f"Account {next(_seq)}", "customer_name": "Ada Okafor",
        "customer_address": "12 Allen Avenue, Ikeja", "meter_type": entry.meter_type, "validated_at": utcnow(),
        **fields,
    }
    account = UtilityAccount(
        user_id=user.id, provider_id=entry.id, customer_number=normalised,
        number_hash=crypto.lookup_hash(normalised), number_last4=normalised[-4:], **values,
    )
    db.session.add(account)
    db.session.commit()
    return account


def make_payment(user: User, account: UtilityAccount, status: str = PaymentStatus.SUCCEEDED,
                 amount_kobo: int = 5_000_00, created_at: datetime | None = None, token: str | None = None,
                 **fields) -> Payment:
    """A utility payment row in any status, for display tests. Moves no money in the ledger.

    A succeeded electricity payment gets a 20-digit token unless ``token`` is given; final
    payments get ``completed_at``.
    """
    entry = account.provider
    status = PaymentStatus(status)
    if token is None and status is PaymentStatus.SUCCEEDED and entry.provider_type == "electricity":
        token = f"{next(_seq):020d}"
    when = created_at or utcnow()
    final = status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED)
    values = {
        "reference": make_request_id(f"T{next(_seq):08d}", when), "fee_kobo": entry.fee_kobo,
        "api_provider": entry.api_provider, "utility_type": entry.provider_type,
        "completed_at": when if final else None, "created_at": when, "updated_at": when,
        "units": "32.5 kWh" if token else None,
        **fields,
    }
    payment = Payment(
        user_id=user.id, estate_id=user.estate_id, utility_account_id=account.id, provider_id=entry.id,
        amount_kobo=amount_kobo, status=status.value, token=token, **values,
    )
    db.session.add(payment)
    db.session.commit()
    return payment
