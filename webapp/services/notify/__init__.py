"""Notifications (DESIGN §6): tell people what happened, once, on the channels they chose.

Callers::

    from webapp.services import notify

    notify.notify(user.id, notify.NotificationEvent.PAYMENT_SUCCEEDED, title="...", body="...",
                  link=f"/payments/{payment.id}", dedup_key=f"payment:{payment.reference}:succeeded")
    db.session.commit()             # the notification commits with the state change
    notify.enqueue_pending_emails()  # then hand the email to a worker
"""
from webapp.services.notify.channels import (
    Channel,
    EmailChannel,
    InAppChannel,
    NotificationMessage,
    all_channels,
    register,
)
from webapp.services.notify.events import DEFAULT_CHANNELS, EVENT_LABELS, NotificationEvent, default_enabled
from webapp.services.notify.inbox import inbox_page, mark_all_read, mark_read, unread_count
from webapp.services.notify.jobs import enqueue_pending_emails
from webapp.services.notify.outbox import (
    DeliveryReport,
    EmailDeliveryError,
    deliver,
    deliver_queued,
)
from webapp.services.notify.preferences import PreferenceError, enabled_channels, set_preference
from webapp.services.notify.service import NotificationError, Recipient, notify, recipient, recipients
from webapp.services.notify.sms import SmsChannel

__all__ = [
    "DEFAULT_CHANNELS", "EVENT_LABELS", "Channel", "DeliveryReport", "EmailChannel", "EmailDeliveryError",
    "InAppChannel", "NotificationError", "NotificationEvent", "NotificationMessage", "PreferenceError", "Recipient",
    "SmsChannel",
    "all_channels", "default_enabled", "deliver", "deliver_queued", "enabled_channels", "enqueue_pending_emails",
    "inbox_page", "mark_all_read", "mark_read", "notify", "recipient", "recipients", "register", "set_preference",
    "unread_count",
]
