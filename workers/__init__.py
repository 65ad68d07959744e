"""The clock's jobs: what the single ``rq cron`` process enqueues, and when (``schedule.py``).

Each module holds the periodic jobs of one domain, declared with ``webapp.jobs.job`` on the
``periodic`` queue; a job loads nothing but ids and calls one service. Jobs that services enqueue
themselves (a purchase, an email) live beside those services, in their ``jobs.py``.
"""
