"""Payments: one-time purchases, automation runs and estate bills, all through one lifecycle (DESIGN §4)."""
from webapp.services.payments import admin_actions, invariants  # noqa: F401  (registers the payment invariants with the ledger check)
from webapp.services.payments.creation import (
    PaymentRequestError,
    Quote,
    SubmitKeyTaken,
    account_for,
    create_utility_payment,
    enqueue,
    enqueue_many,
    new_estate_bill_payment,
    new_utility_payment,
    payment_for_submit_key,
    plan_jobs,
    quote,
    record_jobs,
)
from webapp.services.payments.janitor import JanitorErrors, JanitorReport
from webapp.services.payments.janitor import run_pass as run_janitor
from webapp.services.payments.lifecycle import TransientPaymentError, process, requery, submit
from webapp.services.payments.relay import relay_lost_jobs

__all__ = [
    "JanitorErrors", "JanitorReport", "PaymentRequestError", "Quote", "SubmitKeyTaken", "TransientPaymentError",
    "account_for", "create_utility_payment", "enqueue", "enqueue_many",
    "new_estate_bill_payment", "new_utility_payment", "payment_for_submit_key", "plan_jobs", "process", "quote",
    "record_jobs", "relay_lost_jobs", "requery", "run_janitor", "submit",
]
