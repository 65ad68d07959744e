"""SMS outbox rows in a given state."""
from __future__ import annotations

import factory

from webapp.models import SmsMessage, SmsStatus, User
from webapp.models.base import utcnow

from .factories import UserIdFactory


class SmsMessageFactory(UserIdFactory):
    """An SMS Termii took (status ``sent``, with its message_id), waiting for its delivery report."""

    class Meta:
        model = SmsMessage

    to_number = "+2348031234567"
    body = "Wallet funded\n₦5,000.00 reached your wallet."
    dedup_key = factory.Sequence(lambda n: f"test-sms:{n}:sms")
    urgent = False
    status = SmsStatus.SENT.value
    attempts = 1
    provider_message_id = factory.Sequence(lambda n: f"{9122821270554876000 + n}")
    provider_status = "Successfully Sent"
    sent_at = factory.LazyFunction(utcnow)


def make_sms(user: User, **fields) -> SmsMessage:
    return SmsMessageFactory(user=user, **fields)
