"""Ledger jobs."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import ledger


@job(PERIODIC, timeout=120)
def roll_up_system_balances() -> int:
    """Count the system accounts' pending postings into their balances (see ledger.rollup)."""
    return ledger.roll_up()
