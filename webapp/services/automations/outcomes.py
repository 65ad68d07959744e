"""After an automation's payment ends: reset or count consecutive failures, pause after N."""
from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra import bulk_writes
from webapp.models import Payment
from webapp.models.automation import Automation, AutomationOccurrence
from webapp.models.base import utcnow
from webapp.services import notify
from webapp.services.automations.common import settings_for


def automation_id_for(payment_id: int) -> int | None:
    """The automation whose occurrence ``payment_id`` pays, if any."""
    return automation_ids_for([payment_id]).get(payment_id)


def automation_ids_for(payment_ids: list[int]) -> dict[int, int]:
    """payment id -> the automation whose occurrence it pays, for those that pay one (one query)."""
    if not payment_ids:
        return {}
    return dict(db.session.execute(select(AutomationOccurrence.payment_id, AutomationOccurrence.automation_id)
                                   .where(AutomationOccurrence.payment_id.in_(payment_ids))).all())


def record(payment: Payment, ok: bool, automation_id: int | None = None) -> None:
    """Called in the transaction that made ``payment`` final.

    A success with ``automation_id`` known (read before the lock) is one conditional UPDATE that
    writes nothing when the count is already 0.
    """
    if ok and automation_id is not None:
        bulk_writes.set_where_different(Automation, automation_id, consecutive_failures=0)
        return
    bulk_writes.write_settings()  # a success earlier in this batch may have set the count back to 0
    automation = db.session.scalar(
        select(Automation).join(AutomationOccurrence, AutomationOccurrence.automation_id == Automation.id)
        .where(AutomationOccurrence.payment_id == payment.id)
    )
    if automation is None:
        return
    if ok:
        automation.consecutive_failures = 0
        return
    automation.consecutive_failures += 1
    limit = settings_for(automation.user_id).pause_after_failures
    if automation.consecutive_failures >= limit and automation.paused_at is None:
        pause(automation, f"Paused after {automation.consecutive_failures} failed payments in a row. "
                          f"Last reason: {payment.status_reason or 'the provider refused it'}")


def pause(automation: Automation, reason: str) -> None:
    automation.paused_at = utcnow()
    automation.pause_reason = reason[:255]
    notify.notify(automation.user_id, notify.NotificationEvent.AUTOMATION_PAUSED, title="Automation paused",
                  body=reason, link=f"/automations/{automation.id}",
                  dedup_key=f"automation:{automation.id}:paused:{automation.paused_at:%Y%m%dT%H%M%S}")
