"""When the periodic jobs run. Each job's queue and timeout are declared once, at its ``@job``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    name: str  # fixed, so that restarting the scheduler never registers a job twice
    func: Callable
    interval: int | None = None  # seconds
    cron: str | None = None  # crontab expression, UTC

    @property
    def queue(self) -> str:
        return self.func.options.queue

    @property
    def timeout(self) -> int:
        return self.func.options.timeout


def _jobs() -> list[PeriodicJob]:
    from workers import (
        automation_jobs,
        bill_jobs,
        funding_jobs,
        jobs,
        ledger_jobs,
        notification_jobs,
        payment_jobs,
        payout_jobs,
    )

    return [
        PeriodicJob("record-cron-heartbeat", jobs.record_cron_heartbeat, interval=60),
        PeriodicJob("payments-janitor", payment_jobs.run_janitor, interval=60),
        # Payouts: lost sends, stale transfers, pending and unknown ones asked on the backoff, old requests.
        PeriodicJob("payouts-janitor", payout_jobs.run_payouts_janitor, interval=60),
        # Payments whose job was lost (Redis away at the enqueue, restarted, flushed) run again within seconds.
        PeriodicJob("payments-relay", payment_jobs.relay_lost_payment_jobs, interval=10),
        # System accounts' balances trail their postings by at most about a minute.
        PeriodicJob("ledger-roll-up", ledger_jobs.roll_up_system_balances, interval=60),
        # At second 0 of every minute, so an occurrence due at 09:00 is paid at 09:00.
        PeriodicJob("automations-sweep", automation_jobs.run_sweep, cron="* * * * *"),
        PeriodicJob("automation-reminders", automation_jobs.send_reminders, interval=300),
        # Hourly, because residents' months begin at different hours; each sends on their 1st only, once.
        PeriodicJob("automation-monthly-summaries", automation_jobs.send_monthly_summaries, cron="5 * * * *"),
        # Every 5 minutes; one gateway verify per stale intent, so it is bounded by the batch size.
        PeriodicJob("expire-abandoned-fundings", funding_jobs.expire_abandoned_fundings, interval=300),
        PeriodicJob("deliver-emails", notification_jobs.deliver_queued_emails, interval=60),
        # SMS: retries, quiet hours that ended, and any whose enqueue was missed, within 30 s.
        PeriodicJob("relay-sms", notification_jobs.relay_queued_sms, interval=30),
        # Estate bills: overdue from local midnight (hourly: estates may be in different zones);
        # reminders once a day at 08:00 Lagos time.
        PeriodicJob("estate-bills-overdue", bill_jobs.mark_overdue, cron="0 * * * *"),
        # Bill plans issue their periods from local midnight of the issue day, so hourly as well.
        PeriodicJob("bill-plans-issue", bill_jobs.issue_plan_bills, cron="5 * * * *"),
        PeriodicJob("estate-bill-reminders", bill_jobs.send_bill_reminders, cron="0 7 * * *"),
        PeriodicJob("bill-plan-reminders", bill_jobs.send_plan_bill_reminders, cron="0 7 * * *"),
        # 01:30 UTC = 02:30 Lagos: yesterday's purchases against each provider's record.
        PeriodicJob("payments-reconcile", payment_jobs.reconcile_yesterday, cron="30 1 * * *"),
    ]


PERIODIC_JOBS = _jobs()
