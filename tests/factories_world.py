"""One of every object a resident or an estate admin can name in a URL, for tests that walk all routes.

``build_world`` makes two estates. In the first, resident A owns a utility account, a payment, an
automation, an estate bill, a notification and a funding intent, and the estate has a catalogue
entry, an admin alert, a reconciliation mismatch, a bill plan, a payout account and a payout
waiting for approval; resident B lives in the same estate. The
second estate has its own admin. Every object of A carries a marker (``SECRET``) in a field the
pages show, so a test can tell whether a response leaked it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import factory

from webapp.models import (
    AdminAlert,
    Automation,
    Bill,
    BillPlan,
    Estate,
    FundingIntent,
    HouseholdMember,
    Notification,
    Payment,
    Payout,
    PayoutAccount,
    ReconciliationMismatch,
    ReconciliationRun,
    User,
    UtilityAccount,
    UtilityProvider,
)
from webapp.models.base import utcnow

from . import factories
from .factories import CommittedFactory, UserFactory, UserIdFactory
from .factories_automations import make_automation, make_bill_plan, make_estate_bill
from .factories_households import make_member
from .factories_payments import (
    PaymentFactory,
    make_admin_alert,
    make_catalogue_entry,
    make_payment,
    make_utility_account,
)
from .factories_payouts import make_payout, make_payout_account

SECRET = "Zebra-7731"  # in A's nickname, bill title, notification, funding, entry name, mismatch reference,
#                        plan title and the name of A's household member
FIRST_RUN = datetime(2031, 1, 15, 8, 0, tzinfo=UTC)


@dataclass
class World:
    estate: Estate
    other_estate: Estate
    owner: User           # resident A
    neighbour: User       # resident B, same estate
    admin: User           # estate admin of ``estate``
    other_admin: User     # estate admin of ``other_estate``
    entry: UtilityProvider
    account: UtilityAccount
    payment: Payment
    automation: Automation
    bill: Bill
    notification: Notification
    intent: FundingIntent
    alert: AdminAlert
    run: ReconciliationRun
    mismatch: ReconciliationMismatch
    plan: BillPlan
    member: User          # a member of A's household (a viewer), living in ``estate``
    membership: HouseholdMember
    payout_account: PayoutAccount  # the estate's bank account
    payout: Payout        # a payout the estate's admin asked for, waiting for approval


class NotificationFactory(UserIdFactory):
    class Meta:
        model = Notification

    event = "payment_succeeded"
    title = "Payment succeeded"
    body = "Your payment went through."
    dedup_key = factory.Sequence(lambda n: f"test-notification:{n}")


class FundingIntentFactory(CommittedFactory):
    """A Paystack funding of ₦5,000 still open for an hour."""

    class Meta:
        model = FundingIntent

    user = factory.SubFactory(UserFactory)
    reference = factory.Sequence(lambda n: f"FND-test-{n:04d}")
    gateway = "paystack"
    amount_kobo = 5_000_00
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(hours=1))


class ReconciliationRunFactory(CommittedFactory):
    class Meta:
        model = ReconciliationRun

    api_provider = "vtpass"
    day = factory.LazyFunction(lambda: utcnow().date() - timedelta(days=1))


class ReconciliationMismatchFactory(CommittedFactory):
    """``payment`` missing from the provider's records in ``run``."""

    class Meta:
        model = ReconciliationMismatch

    class Params:
        payment = factory.SubFactory(PaymentFactory)

    run = factory.SubFactory(ReconciliationRunFactory)
    estate_id = factory.SelfAttribute("payment.estate_id")
    payment_id = factory.SelfAttribute("payment.id")
    kind = "no_provider_record"
    reference = factory.SelfAttribute("payment.reference")
    our_amount_kobo = factory.SelfAttribute("payment.amount_kobo")


def build_world() -> World:
    estate = factories.make_estate(name="Lekki Gardens")
    other_estate = factories.make_estate(name="Banana Island")
    owner = factories.make_user(estate=estate, email="owner@example.com", full_name="Ada Owner")
    neighbour = factories.make_user(estate=estate, email="neighbour@example.com", full_name="Bola Neighbour")
    admin = factories.make_user(estate=estate, email="admin@example.com", role="estate_admin")
    other_admin = factories.make_user(estate=other_estate, email="other-admin@example.com", role="estate_admin")

    entry = make_catalogue_entry(estate, name=f"{SECRET} Electric")
    account = make_utility_account(owner, entry, "45012345678", nickname=f"{SECRET} meter")
    payment = make_payment(owner, account, status="held")
    automation = make_automation(owner, account, first_run=FIRST_RUN)
    bill = make_estate_bill(owner, title=f"{SECRET} levy", due_date=date(2031, 2, 1))
    notification = NotificationFactory(user=owner, title=f"{SECRET} paid", link=f"/pay/{payment.id}")
    # The reference is in the URL itself (an anonymous visitor's sign-in link repeats it), so the
    # marker goes in what the result page shows of a failed funding.
    intent = FundingIntentFactory(user=owner, reference="FND-world-0001", status="failed",
                                  failure_reason=f"{SECRET}: the card was declined")
    alert = make_admin_alert(payment, message=f"{SECRET} unknown for a day")
    run = ReconciliationRunFactory(day=date(2031, 1, 14), ours_count=1, ours_kobo=5_000_00, mismatch_count=1,
                                   by_estate={str(estate.id): {"ours_count": 1, "ours_kobo": 5_000_00,
                                                               "mismatches": 1}})
    mismatch = ReconciliationMismatchFactory(run=run, payment=payment, reference=f"REF-{SECRET}")
    plan = make_bill_plan(estate, date(2031, 1, 1), title=f"{SECRET} monthly levy")
    member = factories.make_user(estate=estate, email="member@example.com", full_name=f"{SECRET} Member")
    membership = make_member(owner, member, role="viewer")
    payout_account = make_payout_account(estate, admin, account_name=f"{SECRET} ESTATE LTD")
    payout = make_payout(payout_account, admin, narration=f"{SECRET} security invoice")
    return World(estate, other_estate, owner, neighbour, admin, other_admin, entry, account, payment, automation,
                 bill, notification, intent, alert, run, mismatch, plan, member, membership, payout_account, payout)
