"""Factories for catalogue entries, utility accounts, payments and the admin alerts about them.

They write rows directly (no provider calls, no ledger postings), for tests of what pages show
and who may see what. A test of the money path must go through the payments service instead.
See ``tests/factories.py`` for the conventions shared by every factory.
"""
from __future__ import annotations

from datetime import datetime

import factory

from webapp.infra import crypto
from webapp.models import AdminAlert, Estate, Payment, PaymentStatus, User, UtilityAccount, UtilityProvider
from webapp.models.base import utcnow
from webapp.providers.vtpass_codes import make_request_id

from .factories import CommittedFactory, EstateFactory, UserFactory, given

FINAL_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED)


class CatalogueEntryFactory(CommittedFactory):
    """An active catalogue entry; by default Ikeja Electric prepaid through VTpass.

    The defaults are codes the sandbox knows, so validation and purchases work against it. A second
    entry in the same estate needs another ``provider_code``/``item_code`` (they are unique per estate).
    ``origin`` is "catalogue" (as if a sync had added it); pass ``origin="admin"`` for one added by hand.
    """

    class Meta:
        model = UtilityProvider

    estate = factory.SubFactory(EstateFactory)
    name = "Ikeja Electric Prepaid"
    provider_type = "electricity"
    api_provider = "vtpass"
    provider_code = "ikeja-electric"
    item_code = "prepaid"
    biller_name = "Ikeja Electric"
    meter_type = "prepaid"
    label_name = "Meter Number"
    min_amount_kobo = 500_00
    max_amount_kobo = 500_000_00
    fee_kobo = 100_00
    supports_validation = True
    is_active = True
    origin = "catalogue"


class UtilityAccountFactory(CommittedFactory):
    """A linked account as if validation had succeeded (encrypted number, lookup hash, last four)."""

    class Meta:
        model = UtilityAccount

    class Params:
        number = "1111111111111"
        normalised = factory.LazyAttribute(lambda a: crypto.normalise_number(a.number))

    user = factory.SubFactory(UserFactory)
    provider = factory.SubFactory(CatalogueEntryFactory, estate=factory.SelfAttribute("..user.estate"))
    customer_number = factory.SelfAttribute("normalised")
    number_hash = factory.LazyAttribute(lambda a: crypto.lookup_hash(a.normalised))
    number_last4 = factory.LazyAttribute(lambda a: a.normalised[-4:])
    nickname = factory.Sequence(lambda n: f"Account {n}")
    customer_name = "Ada Okafor"
    customer_address = "12 Allen Avenue, Ikeja"
    meter_type = factory.SelfAttribute("provider.meter_type")
    validated_at = factory.LazyFunction(utcnow)


class PaymentFactory(CommittedFactory):
    """A utility payment row in any status, for display tests. Moves no money in the ledger.

    A succeeded electricity payment gets a 20-digit token unless ``token`` is given; final
    payments get ``completed_at``; everything about the provider comes from the account's entry.
    """

    class Meta:
        model = Payment

    class Params:
        final = factory.LazyAttribute(lambda p: PaymentStatus(p.status) in FINAL_STATUSES)
        vends_token = factory.LazyAttribute(
            lambda p: PaymentStatus(p.status) is PaymentStatus.SUCCEEDED and p.provider.provider_type == "electricity")

    utility_account = factory.SubFactory(UtilityAccountFactory)
    user = factory.SelfAttribute("utility_account.user")
    estate_id = factory.SelfAttribute("user.estate_id")
    provider = factory.SelfAttribute("utility_account.provider")
    status = PaymentStatus.SUCCEEDED.value
    amount_kobo = 5_000_00
    token = factory.Maybe("vends_token", yes_declaration=factory.Sequence(lambda n: f"{n:020d}"),
                          no_declaration=None)
    units = factory.LazyAttribute(lambda p: "32.5 kWh" if p.token else None)
    created_at = factory.LazyFunction(utcnow)
    updated_at = factory.SelfAttribute("created_at")
    completed_at = factory.LazyAttribute(lambda p: p.created_at if p.final else None)
    reference = factory.LazyAttributeSequence(lambda p, n: make_request_id(f"T{n:08d}", p.created_at))
    fee_kobo = factory.SelfAttribute("provider.fee_kobo")
    api_provider = factory.SelfAttribute("provider.api_provider")
    utility_type = factory.SelfAttribute("provider.provider_type")


class AdminAlertFactory(CommittedFactory):
    """An alert to the admins of ``payment``'s estate about that payment."""

    class Meta:
        model = AdminAlert

    class Params:
        payment = factory.SubFactory(PaymentFactory)

    estate_id = factory.SelfAttribute("payment.estate_id")
    payment_id = factory.SelfAttribute("payment.id")
    kind = "payment_unknown"
    message = "A payment has been unknown for a day"
    dedup_key = factory.Sequence(lambda n: f"test-alert:{n}")


def make_catalogue_entry(estate: Estate, **fields) -> UtilityProvider:
    """An active catalogue entry of ``estate``; by default Ikeja Electric prepaid through VTpass."""
    return CatalogueEntryFactory(estate=estate, **fields)


def make_utility_account(user: User, entry: UtilityProvider, number: str = "1111111111111",
                         **fields) -> UtilityAccount:
    """``user``'s validated account with ``entry`` for customer ``number``."""
    return UtilityAccountFactory(user=user, provider=entry, number=number, **fields)


def make_payment(user: User, account: UtilityAccount, status: str = PaymentStatus.SUCCEEDED,
                 amount_kobo: int = 5_000_00, created_at: datetime | None = None, token: str | None = None,
                 **fields) -> Payment:
    """A payment of ``user`` for ``account`` in ``status``, made at ``created_at`` (default now)."""
    return PaymentFactory(user=user, utility_account=account, status=PaymentStatus(status).value,
                          amount_kobo=amount_kobo, **given(created_at=created_at, token=token), **fields)


def make_admin_alert(payment: Payment, **fields) -> AdminAlert:
    """An open "payment unknown" alert to the admins of ``payment``'s estate."""
    return AdminAlertFactory(payment=payment, **fields)
