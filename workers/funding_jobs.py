"""Wallet funding jobs."""
from __future__ import annotations

from webapp.jobs import PERIODIC, job
from webapp.services import funding


@job(PERIODIC, timeout=240)
def expire_abandoned_fundings() -> int:
    """Close top-ups whose checkout lifetime passed; each is verified with its gateway first,
    so a payment whose webhook never came is credited rather than expired."""
    return funding.expire_abandoned()
