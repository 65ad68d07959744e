"""Shared set-up for payment tests: a synced sandbox catalogue, linked accounts, a funded wallet."""
from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra import crypto
from webapp.infra.redis_client import redis_connection
from webapp.jobs import QUEUES, queue, use_app
from webapp.models import JournalEntry, Payment, UtilityAccount, UtilityProvider
from webapp.providers import registry
from webapp.services import catalogue, ledger, payments

PROVIDERS = ("flutterwave", "vtpass")


def sync_catalogue(estate_id: int) -> None:
    for api_provider in PROVIDERS:
        catalogue.sync_from_provider(estate_id, registry.utility_service(api_provider, current_app.config))
    db.session.commit()


def prepaid_entry(estate_id: int, api_provider: str) -> UtilityProvider:
    entries = [e for e in catalogue.active_for_estate(estate_id, "electricity")
               if e.api_provider == api_provider and e.meter_type == "prepaid"]
    assert entries, f"sandbox catalogue has no prepaid electricity item for {api_provider}"
    return entries[0]


def link(user, entry: UtilityProvider, number: str, nickname: str = "Home meter") -> UtilityAccount:
    account = UtilityAccount(
        user_id=user.id, provider_id=entry.id, nickname=nickname, customer_number=number,
        number_hash=crypto.lookup_hash(number), number_last4=number[-4:],
    )
    db.session.add(account)
    db.session.commit()
    return account


def fund(user, amount_kobo: int, reference: str = "seed-funding") -> None:
    ledger.credit_funding(user.id, amount_kobo, "paystack", f"{reference}-{user.id}")
    db.session.commit()


def paid_from_wallet(user, account, amount_kobo: int, funded_kobo: int = 20_000_00):
    """A succeeded purchase whose debit really went through the ledger (so it can be refunded)."""
    from tests.factories_payments import make_payment

    payment = make_payment(user, account, "succeeded", amount_kobo=amount_kobo)
    fund(user, funded_kobo)
    ledger.debit_payment(user.id, payment.amount_kobo, payment.fee_kobo, "vtpass", payment.reference)
    db.session.commit()
    return payment


def run_worker() -> None:
    """Drain every queue with a real RQ worker in this process (jobs run in the test's app)."""
    use_app(current_app._get_current_object())
    conn: Redis = redis_connection()
    SimpleWorker([queue(name) for name in QUEUES], connection=conn).work(burst=True, with_scheduler=False)
    db.session.rollback()  # read the worker's commits, not this session's older snapshot


def pay(user, account, amount_kobo: int = 5_000_00, key: str | None = None) -> Payment:
    payment = payments.create_utility_payment(user, account.id, amount_kobo, key or f"k-{account.id}-{amount_kobo}")
    return payment


def reload(payment: Payment) -> Payment:
    """The payment as committed now. Ends this session's transaction first: on SQLite (WAL) an
    open read transaction keeps seeing the snapshot it started with, not the worker's commits."""
    db.session.rollback()
    return db.session.get(Payment, payment.id)


def entry_count(reference: str, suffix: str) -> int:
    return db.session.scalar(select(func.count(JournalEntry.id)).where(
        JournalEntry.idempotency_key == f"payment:{reference}:{suffix}"))
