"""Payment jobs: the purchase job (id = payment reference) and the janitor."""
from __future__ import annotations

from webapp.services import payments

from . import app_job


@app_job
def process_payment(payment_id: int) -> str:
    return payments.process(payment_id)


@app_job
def run_janitor() -> str:
    return payments.run_janitor().summary()
