"""When to try again: every retry, backoff and requery schedule of the product, in one place.

- An unknown purchase outcome (DESIGN §4) is asked again after 1 m, 5 m, 15 m, 1 h, 6 h, then
  daily: most answers come within minutes, and a provider outage can last a day.
- A prepaid token that did not come with the purchase is asked for after 2 m, 5 m, 10 m, 30 m,
  then hourly (until ``TOKEN_GIVE_UP_SECONDS``).
- A transient provider error before the provider accepted waits a full-jitter exponential delay
  (``PAYMENT_RETRY_BASE_SECONDS`` doubling up to ``PAYMENT_RETRY_MAX_SECONDS``), so a thousand
  payments that failed together do not retry in step.
- A purchase job that raised is re-run by RQ after 10 s, 1 m and 5 m (``PAYMENT_RQ_RETRY_INTERVALS``
  overrides; empty means none); the janitor backs this up.
- A payment left ``created`` or ``debited`` (its job lost, its worker stopped) is taken over by the
  janitor after ``PAYMENT_STALE_AFTER_SECONDS``; the relay does it within seconds when it can tell
  the job is gone.
- A ``submitted`` payment holds a lease of ``PAYMENT_SUBMIT_LEASE_SECONDS`` that its live worker
  renews every third of a lease while the call is out (``payments.leases``), so a live worker is
  never overtaken and a dead one's payments are asked about within a lease.
- An email the SMTP server refused for now is tried again after 1 m, 5 m, 15 m, 1 h, then every
  6 h (up to ``MAIL_MAX_ATTEMPTS``); one left in "sending" is taken back after 15 minutes, longer
  than any SMTP exchange plus the job timeout.
- An SMS Termii did not take (no answer, 5xx, 429) is sent again after 30 s, 2 m, 10 m, 30 m, then
  every hour, with up to 20% jitter (up to ``SMS_MAX_ATTEMPTS``); one left in "sending" for 10
  minutes is marked failed, never resent, as a stranded email is.

A schedule given as a table repeats its last step for every later attempt. The requery and token
tables can be replaced in the configuration (``PAYMENT_REQUERY_BACKOFF_SECONDS``,
``TOKEN_BACKOFF_SECONDS``): `make run` against the sandbox uses short ones, so that every test
number settles within a minute.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

from flask import current_app

REQUERY_BACKOFF = (60, 300, 900, 3600, 21600, 86400)
TOKEN_BACKOFF = (120, 300, 600, 1800, 3600)
PURCHASE_JOB_RETRIES = (10, 60, 300)
EMAIL_RETRY_DELAYS = (60, 300, 900, 3600, 6 * 3600)
EMAIL_STALE_SENDING_AFTER = timedelta(minutes=15)
SMS_RETRY_DELAYS = (30, 120, 600, 1800, 3600)
SMS_STALE_SENDING_AFTER = timedelta(minutes=10)


def _step(table: Sequence[int], index: int) -> timedelta:
    return timedelta(seconds=table[max(0, min(index, len(table) - 1))])


def _table(setting: str, default: Sequence[int]) -> Sequence[int]:
    """A schedule from the configuration (``setting``), else the table above."""
    return current_app.config.get(setting) or default


def requery_delay(checks_done: int) -> timedelta:
    """How long after its ``checks_done``-th status check an unknown payment is asked again."""
    return _step(_table("PAYMENT_REQUERY_BACKOFF_SECONDS", REQUERY_BACKOFF), checks_done)


# A status call that got no answer is tried again soon (it says nothing about the purchase, so it
# must not push the next real check out along REQUERY_BACKOFF): doubling from the base, capped,
# with jitter so a provider coming back is not met by every waiting payment in the same second.
NO_ANSWER_RETRY_BASE_SECONDS = 5
NO_ANSWER_RETRY_MAX_SECONDS = 120


def no_answer_retry_delay(failures: int) -> timedelta:
    """How long after its ``failures``-th status call in a row with no answer (>= 1) to ask again."""
    ceiling = min(NO_ANSWER_RETRY_MAX_SECONDS, NO_ANSWER_RETRY_BASE_SECONDS * 2 ** max(0, failures - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def token_check_delay(checks_done: int) -> timedelta:
    """How long after ``checks_done`` asks for a late token the next ask comes."""
    return _step(_table("TOKEN_BACKOFF_SECONDS", TOKEN_BACKOFF), checks_done)


def purchase_retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with full jitter after the ``attempt``-th transient provider error."""
    base = current_app.config["PAYMENT_RETRY_BASE_SECONDS"]
    cap = current_app.config["PAYMENT_RETRY_MAX_SECONDS"]
    return timedelta(seconds=random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1))))


def purchase_job_retries() -> Sequence[int]:
    """The delays at which RQ re-runs a purchase job that raised."""
    configured = current_app.config.get("PAYMENT_RQ_RETRY_INTERVALS")
    return PURCHASE_JOB_RETRIES if configured is None else configured


def payment_stale_after() -> timedelta:
    """How long a payment may sit mid-lifecycle before the janitor takes it over."""
    return timedelta(seconds=current_app.config["PAYMENT_STALE_AFTER_SECONDS"])


def submission_lease() -> timedelta:
    """How far ahead of now a sent payment's lease ends (its ``next_check_at``)."""
    return timedelta(seconds=current_app.config["PAYMENT_SUBMIT_LEASE_SECONDS"])


def sms_retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed send an SMS is tried again (``attempts`` >= 1)."""
    base = _step(SMS_RETRY_DELAYS, attempts - 1)
    return base + timedelta(seconds=random.uniform(0, 0.2 * base.total_seconds()))


def email_retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed send an email is tried again (``attempts`` >= 1)."""
    return _step(EMAIL_RETRY_DELAYS, attempts - 1)
