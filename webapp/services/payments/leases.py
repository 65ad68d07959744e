"""The lease a live worker holds on the payments it has sent: ``next_check_at`` of a ``submitted`` payment.

A payment is committed ``submitted`` before its purchase call, its ``next_check_at`` one lease
(``PAYMENT_SUBMIT_LEASE_SECONDS``) ahead. While the calls are out, a thread of the worker pushes it
one lease ahead again every third of a lease (``held``), so a live worker's payments are never
taken over, however long their calls wait for a provider slot or for the provider's answer. Once the
worker is gone (killed -9, its machine lost) nobody renews it: within one lease the relay hands each
payment to a job that asks the provider (``lifecycle.take_over``), never resending blindly.

A renewal is one UPDATE in a transaction of its own, never around an HTTP call; most batches
finish their calls within the first third of a lease and renew nothing.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import update

from webapp.extensions import db
from webapp.infra import keeper
from webapp.models.base import utcnow
from webapp.models.payment import Payment, PaymentStatus
from webapp.services import policy

log = logging.getLogger(__name__)


def renew(payment_ids: list[int]) -> int:
    """Push the lease of these payments (those still ``submitted``) one lease ahead; how many, committed."""
    result = db.session.execute(
        update(Payment).where(Payment.id.in_(payment_ids), Payment.status == PaymentStatus.SUBMITTED.value)
        .values(next_check_at=utcnow() + policy.submission_lease()),
        execution_options={"synchronize_session": False})
    db.session.commit()
    return result.rowcount


@contextmanager
def held(payment_ids: list[int]) -> Iterator[None]:
    """Keep the lease of ``payment_ids`` while the block (the call stage) runs."""
    if not payment_ids:
        yield
        return
    app = current_app._get_current_object()

    def renew_now() -> None:
        try:
            with app.app_context():
                try:
                    renew(payment_ids)
                finally:
                    db.session.remove()
        except Exception:  # the next renewal tries again; the lease has two more thirds
            log.exception("could not renew the lease of payments %s", payment_ids)

    with keeper.every(max(0.5, policy.submission_lease().total_seconds() / 3), renew_now, "payment-lease"):
        yield
