"""Job functions enqueued on RQ. Each loads ids and calls one service."""
from __future__ import annotations

from webapp.infra import health
from workers import app_job


@app_job
def record_cron_heartbeat() -> str:
    """Lets /healthz say when the scheduler last ran a job."""
    return health.record_cron_heartbeat()
