"""The table of periodic jobs. Each later capability adds its row here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: Callable
    queue: str = "default"
    interval: int | None = None  # seconds
    cron: str | None = None  # crontab expression, UTC
    timeout: int = 300


def _jobs() -> list[PeriodicJob]:
    from workers import automation_jobs, bill_jobs, funding_jobs, jobs, notification_jobs, payment_jobs

    return [
        PeriodicJob("record-cron-heartbeat", jobs.record_cron_heartbeat, interval=60, timeout=30),
        PeriodicJob("payments-janitor", payment_jobs.run_janitor, interval=60, timeout=600),
        # At second 0 of every minute, so an occurrence due at 09:00 is paid at 09:00.
        PeriodicJob("automations-sweep", automation_jobs.run_sweep, cron="* * * * *", timeout=600),
        PeriodicJob("automation-reminders", automation_jobs.send_reminders, interval=300, timeout=120),
        # Every 5 minutes; one gateway verify per stale intent, so it is bounded by the batch size.
        PeriodicJob("expire-abandoned-fundings", funding_jobs.expire_abandoned_fundings, interval=300, timeout=240),
        # Sends mail whose enqueue after commit was missed, and retries after SMTP outages.
        PeriodicJob("deliver-emails", notification_jobs.deliver_queued_emails, interval=60, timeout=600),
        # Estate bills: overdue from local midnight (hourly: estates may be in different zones);
        # reminders once a day at 08:00 Lagos time.
        PeriodicJob("estate-bills-overdue", bill_jobs.mark_overdue, cron="0 * * * *", timeout=300),
        PeriodicJob("estate-bill-reminders", bill_jobs.send_bill_reminders, cron="0 7 * * *", timeout=300),
        # 01:30 UTC = 02:30 Lagos: yesterday's purchases against each provider's record. One
        # requery per VTpass purchase of the day, hence the long timeout.
        PeriodicJob("payments-reconcile", payment_jobs.reconcile_yesterday, cron="30 1 * * *", timeout=3600),
    ]


PERIODIC_JOBS = _jobs()
