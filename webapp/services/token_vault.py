"""The resident's own bookkeeping of their tokens: which ones they have loaded into the meter."""
from __future__ import annotations

from datetime import datetime

from webapp.extensions import db
from webapp.models import Payment
from webapp.models.base import utcnow
from webapp.services.payments.outcomes import NoToken


def mark_used(payment: Payment, used: bool, now: datetime | None = None) -> Payment:
    """Record that the resident loaded ``payment``'s token (``used``) or take that back; commits.

    Marking a token used again keeps the first time it was marked. Raises ``NoToken`` and changes
    nothing when the payment has no token yet. The caller has checked the payment is theirs.
    """
    if not payment.token:
        raise NoToken("This token has not arrived yet, so it cannot be marked used.")
    if used and payment.token_used_at is None:
        payment.token_used_at = now or utcnow()
    elif not used:
        payment.token_used_at = None
    db.session.commit()
    return payment
