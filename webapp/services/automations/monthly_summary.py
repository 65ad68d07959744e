"""On the 1st of each month (the resident's time zone), one summary of what autopay did the month
before, in the inbox and by email as their preferences say: spent per utility type, payments
made, held, skipped and failed, and a link to that month on the "What autopay did" page.

Only residents with activity that month get one, and each gets it once: its dedup key names the
resident and the month, so a second run (or a second scheduler) sends nothing.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Estate, Payment, User
from webapp.models.automation import AutomationOccurrence
from webapp.models.base import utcnow
from webapp.models.catalogue import utility_label
from webapp.models.user import Role
from webapp.money import naira
from webapp.services import notify
from webapp.services.automations.activity import Month, MonthTotals, happened_at, totals_of

E = notify.NotificationEvent


def _zone():
    return func.coalesce(User.timezone, Estate.timezone)


def _resident_zones() -> list[str]:
    return list(db.session.scalars(
        select(_zone()).select_from(User).join(Estate, Estate.id == User.estate_id)
        .where(User.role == Role.RESIDENT.value, User.is_active_flag.is_(True)).distinct()))


def dedup_key(user_id: int, month: Month) -> str:
    return f"monthly-summary:{user_id}:{month.param}"


def send_monthly_summaries(now: datetime | None = None) -> int:
    """Send last month's summary to the residents whose month began today; how many were sent.
    Safe to run as often as you like (hourly from cron: residents live in different zones)."""
    now = now or utcnow()
    sent = 0
    for zone in _resident_zones():
        local = now.astimezone(ZoneInfo(zone))
        if local.day != 1:
            continue
        month = Month(local.year, local.month).previous
        start, end = month.window(zone)
        when = happened_at()
        user_ids = db.session.scalars(
            select(AutomationOccurrence.user_id).distinct()
            .join(User, User.id == AutomationOccurrence.user_id).join(Estate, Estate.id == User.estate_id)
            .outerjoin(Payment, Payment.id == AutomationOccurrence.payment_id)
            .where(_zone() == zone, User.role == Role.RESIDENT.value, User.is_active_flag.is_(True),
                   when >= start, when < end)).all()
        totals = totals_of(user_ids, start, end)
        users = db.session.scalars(select(User).where(User.id.in_(user_ids)).order_by(User.id)).all()
        chosen = notify.recipients(users, [E.MONTHLY_SUMMARY])
        for user in users:
            if not totals[user.id].any:
                continue
            used = notify.notify(user.id, E.MONTHLY_SUMMARY, title=f"What autopay did in {month.label}",
                                 body=summary_text(month, totals[user.id]),
                                 link=f"/automations/activity?month={month.param}",
                                 dedup_key=dedup_key(user.id, month), to=chosen[user.id, E.MONTHLY_SUMMARY])
            sent += bool(used)
        db.session.commit()
        notify.enqueue_pending_emails()
    return sent


def summary_text(month: Month, totals: MonthTotals) -> str:
    spent = ", ".join(f"{utility_label(kind)} {naira(kobo)}"
                      for kind, kobo in sorted(totals.spent_by_type.items(), key=lambda item: (-item[1], item[0])))
    lines = [f"In {month.label} autopay paid {naira(totals.paid_kobo)}" + (f": {spent}." if spent else "."),
             f"Payments made by autopay: {totals.made}. Held for review: {totals.held}. "
             f"Skipped: {totals.skipped}. Failed: {totals.failed}."]
    if totals.waiting:
        lines.append(f"Still waiting for money: {totals.waiting}.")
    lines.append("Every run, and why one was held or skipped, is on the \u201cWhat autopay did\u201d page.")
    return "\n".join(lines)
