"""Payment jobs: the purchase job (id = payment reference), the janitor, the daily reconciliation
and the status check a bill webhook asks for (id = ``check-<reference>``)."""
from __future__ import annotations

from webapp.services import notify, payments, reconciliation
from webapp.services.payments import lifecycle
from workers import app_job


@app_job
def process_payment(payment_id: int) -> str:
    try:
        return payments.process(payment_id)
    finally:
        notify.enqueue_pending_emails()  # emails written by committed steps go out even on a retry


@app_job
def check_payment(payment_id: int) -> str:
    """A bill webhook named this payment: ask the provider now (the event itself is not trusted)."""
    try:
        return lifecycle.check_now(payment_id)
    finally:
        notify.enqueue_pending_emails()


@app_job
def run_janitor() -> str:
    try:
        return payments.run_janitor().summary()
    finally:
        notify.enqueue_pending_emails()


@app_job
def reconcile_yesterday() -> str:
    """Yesterday (Lagos) against every provider; a day already reconciled is left as it was. A provider
    that could not be asked fails the job (visible in RQ) after the others were reconciled."""
    runs = reconciliation.reconcile_all(reconciliation.previous_lagos_day())
    return "\n".join(reconciliation.summary(run) for run in runs)
