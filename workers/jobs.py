"""The scheduler's own heartbeat."""
from __future__ import annotations

from webapp.infra import health
from webapp.jobs import PERIODIC, job


@job(PERIODIC, timeout=30)
def record_cron_heartbeat() -> str:
    """Lets /healthz say when the scheduler last ran a job."""
    return health.record_cron_heartbeat()
