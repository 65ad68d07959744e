"""Periodic jobs for the single `rq cron` process (``flask cron`` loads this file).

Declared as data with fixed names so that restarting the scheduler never duplicates a job.
"""
from rq import cron

from workers.schedule import PERIODIC_JOBS

for spec in PERIODIC_JOBS:
    cron.register(spec.func, spec.queue, name=spec.name, interval=spec.interval, cron=spec.cron,
                  job_timeout=spec.timeout)
