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
    from workers import jobs

    return [
        PeriodicJob("record-cron-heartbeat", jobs.record_cron_heartbeat, interval=60, timeout=30),
    ]


PERIODIC_JOBS = _jobs()
