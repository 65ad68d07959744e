"""The periodic payouts janitor (``services.payouts.janitor``)."""
from __future__ import annotations

import logging

from webapp.jobs import PERIODIC, job
from webapp.services import notify
from webapp.services.payouts import janitor

log = logging.getLogger(__name__)


@job(PERIODIC, timeout=300)
def run_payouts_janitor() -> str:
    """One pass. Two passes at once are harmless (every step is a compare-and-set on the payout's
    status), so no lock: a pass is a handful of rows."""
    try:
        report = janitor.run_pass()
        for error in report.errors:
            log.error("payouts janitor: %s", error)
        return report.summary()
    finally:
        notify.enqueue_pending_emails()
