"""Payment jobs: the purchase job (id = payment reference) and the janitor."""
from __future__ import annotations

from webapp.services import notify, payments

from . import app_job


@app_job
def process_payment(payment_id: int) -> str:
    try:
        return payments.process(payment_id)
    finally:
        notify.enqueue_pending_emails()  # emails written by committed steps go out even on a retry


@app_job
def run_janitor() -> str:
    try:
        return payments.run_janitor().summary()
    finally:
        notify.enqueue_pending_emails()
