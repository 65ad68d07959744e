"""Periodic payment jobs: the janitor and the daily reconciliation."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import notify, payments, reconciliation


@job(PERIODIC, timeout=600)
def run_janitor() -> str:
    try:
        return payments.run_janitor().summary()
    finally:
        notify.enqueue_pending_emails()


# One requery per VTpass purchase of the day, hence the long timeout.
@job(PERIODIC, timeout=3600)
def reconcile_yesterday() -> str:
    """Yesterday (Lagos) against every provider; a day already reconciled is left as it was. A provider
    that could not be asked fails the job (visible in RQ) after the others were reconciled."""
    runs = reconciliation.reconcile_all(reconciliation.previous_lagos_day())
    return "\n".join(reconciliation.summary(run) for run in runs)
