"""Reminders before each automatic payment, sent once per occurrence (the dedup key says which)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models.automation import Automation
from webapp.models.base import utcnow
from webapp.services import notify
from webapp.services.automations.common import settings_for

MAX_LEAD = timedelta(days=7)


def send_reminders(now: datetime | None = None) -> int:
    """Remind residents of runs due within their lead time. Safe to run twice: dedup keys."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Automation).where(Automation.enabled.is_(True), Automation.paused_at.is_(None),
                                 Automation.deleted_at.is_(None), Automation.next_run_at > now,
                                 Automation.next_run_at <= now + MAX_LEAD)
    ).all()
    sent = 0
    for automation in candidates:
        settings = settings_for(automation.user_id)
        if settings.reminder_lead_hours <= 0 or automation.next_run_at > now + timedelta(
                hours=settings.reminder_lead_hours):
            continue
        when = automation.next_run_at
        what = (automation.utility_account.nickname if automation.utility_account is not None
                else f"your {automation.bill_type.replace('_', ' ')} bill")
        action = "will be skipped, as you asked" if automation.skip_next else "will run"
        used = notify.notify(
            automation.user_id, notify.NotificationEvent.PAYMENT_UPCOMING, title="Upcoming automatic payment",
            body=f"The automatic payment for {what} {action} at {_local(when, automation.timezone)}.",
            link="/automations/upcoming", dedup_key=f"reminder:{automation.id}:{when:%Y%m%dT%H%MZ}",
        )
        sent += bool(used)
    db.session.commit()
    notify.enqueue_pending_emails()
    return sent


def _local(when: datetime, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo(timezone)).strftime("%a %d %b, %H:%M")
