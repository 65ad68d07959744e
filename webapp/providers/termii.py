"""Termii's Messaging API: send one SMS, and read the delivery report Termii posts back.

What Termii publishes, and what this module relies on:

- Send (https://developers.termii.com/messaging-api, "Send message"): ``POST {BASE_URL}/api/sms/send``
  with a JSON body ``{"to", "from", "sms", "type": "plain", "channel", "api_key"}``. ``to`` is in
  international format without the plus ("23490126727"); ``from`` is a registered sender ID of
  3 to 11 characters; ``channel`` is ``generic`` (promotional, not delivered to DND numbers),
  ``dnd`` (transactional: delivered whatever the number's DND setting, "strongly recommended" for
  OTPs and transactional messages) or ``whatsapp``. The answer documented is
  ``{"message_id": "9122821270554876574", "message": "Successfully Sent", "balance": 9, "user": "..."}``.
  The API key goes in the body, not a header, so it is redacted from anything we keep.
- Delivery report (https://developer.termii.com/events-and-reports, "Outbound Message (Delivery
  Report)"): Termii POSTs JSON to the webhook URL set in its console, with fields ``type, id,
  message_id, receiver, sender, message, sent_at, cost, status, channel``. Its sample's status is
  ``"DELIVERED | Message delivered to handset"``; its table lists ``Delivered``, ``DND Active on
  Phone Number``, ``Message Sent`` (handed to the networks, no report yet), ``Received``,
  ``Message Failed``, ``Rejected`` and ``Expired``. "Verifying events": a genuine event carries
  ``X-Termii-Signature``, an HMAC SHA512 of the event payload signed with the account's secret key.
  The page does not say how the digest is encoded; we take hex (as the other HMAC-SHA512 webhook
  we receive, Paystack's, is sent).

Termii documents no idempotency key for a send, so the outbox, not this client, makes a message
go once (``webapp/services/notify/sms_outbox.py``).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

import requests

from webapp.providers.http import shared_session
from webapp.providers.redact import Redactor

log = logging.getLogger("webapp.providers")

SEND_PATH = "/api/sms/send"
CHANNELS = ("generic", "dnd", "whatsapp")  # Termii's routes (messaging-api)
SIGNATURE_HEADER = "X-Termii-Signature"  # events-and-reports, "Verifying events"


class SmsSendError(Exception):
    """Termii did not take the message. ``temporary``: worth sending again later (no answer,
    5xx, 429, our credentials refused); otherwise this message itself was refused for good."""

    def __init__(self, reason: str, *, temporary: bool, http_status: int | None = None):
        super().__init__(reason)
        self.reason = reason[:500]
        self.temporary = temporary
        self.http_status = http_status


@dataclass(frozen=True)
class SentSms:
    message_id: str
    balance: str | None  # Termii's account balance after the send, as it wrote it


# Termii's status words (the part before " | " in the sample), lower-cased: what each means for us
# and the reason a resident reads when the message did not arrive.
DELIVERED_STATUSES = frozenset({"delivered", "received"})
PENDING_STATUSES = frozenset({"message sent"})
FAILED_REASONS = {
    "dnd active on phone number": "Do-Not-Disturb is active on this number",
    "message failed": "the network could not deliver it",
    "rejected": "the network rejected it",
    "expired": "the phone was off or out of coverage until the message expired",
}


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str
    status: str  # as Termii wrote it (kept on the row)
    outcome: str  # "delivered", "failed", "pending" (still on its way) or "unknown" (a status we do not know)
    reason: str | None  # for "failed": words for the resident


class BadDeliveryReport(ValueError):
    """The body is not a Termii outbound-message report we can read."""


def parse_delivery_report(payload) -> DeliveryReport:
    """Read an outbound-message report; raises ``BadDeliveryReport`` for anything else."""
    if not isinstance(payload, dict):
        raise BadDeliveryReport("the report must be a JSON object")
    message_id, status = payload.get("message_id"), payload.get("status")
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > 64:
        raise BadDeliveryReport("message_id is missing or not an id")
    if not isinstance(status, str) or not status.strip() or len(status) > 100:
        raise BadDeliveryReport("status is missing")
    word = status.split("|", 1)[0].strip().lower()
    if word in DELIVERED_STATUSES:
        outcome, reason = "delivered", None
    elif word in PENDING_STATUSES:
        outcome, reason = "pending", None
    elif word in FAILED_REASONS:
        outcome, reason = "failed", FAILED_REASONS[word]
    else:
        outcome, reason = "unknown", None
    return DeliveryReport(message_id=message_id.strip(), status=" ".join(status.split()), outcome=outcome,
                          reason=reason)


def signature_valid(raw_body: bytes, given: str | None, secret: str) -> bool:
    """``X-Termii-Signature``: hex HMAC-SHA512 of the raw body with the account's secret key."""
    if not secret or not given:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def sign(raw_body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), raw_body, hashlib.sha512).hexdigest()


def wire_number(e164: str) -> str:
    """Termii's "international format": the E.164 digits without the plus."""
    return e164.lstrip("+")


class TermiiClient:
    def __init__(self, base_url: str, api_key: str, sender_id: str, *, channel: str = "dnd",
                 connect_timeout: float = 5.0, read_timeout: float = 15.0) -> None:
        if not base_url or not api_key:
            raise ValueError("Termii needs TERMII_BASE_URL and TERMII_API_KEY")
        if channel not in CHANNELS:
            raise ValueError(f"TERMII_CHANNEL must be one of {', '.join(CHANNELS)}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.sender_id = sender_id
        self.channel = channel
        self.timeouts = (float(connect_timeout), float(read_timeout))
        self.redactor = Redactor((api_key,))

    def send(self, to_e164: str, text: str) -> SentSms:
        """Send one SMS; ``SentSms`` with Termii's message_id, or ``SmsSendError``."""
        body = {"to": wire_number(to_e164), "from": self.sender_id, "sms": text, "type": "plain",
                "channel": self.channel, "api_key": self.api_key}
        started = time.monotonic()
        try:
            response = shared_session().post(self.base_url + SEND_PATH, json=body, timeout=self.timeouts)
        except requests.RequestException as exc:
            # A read timeout may mean Termii sent it; with no idempotency key to ask by, the outbox
            # decides (it retries: a token that never arrives costs more than one sent twice).
            raise SmsSendError(f"no answer from Termii ({type(exc).__name__})", temporary=True) from exc
        elapsed_ms = int((time.monotonic() - started) * 1000)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        log.info("termii send: HTTP %s in %s ms: %s", response.status_code, elapsed_ms,
                 self.redactor.body(answer) if answer is not None else self.redactor.text(response.text, 300))
        message = answer.get("message") if isinstance(answer, dict) else None
        described = f"Termii answered {response.status_code}" + (f": {message}" if isinstance(message, str) else "")
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            raise SmsSendError(described, temporary=True, http_status=response.status_code)
        if response.status_code >= 400:
            raise SmsSendError(described, temporary=False, http_status=response.status_code)
        message_id = answer.get("message_id") if isinstance(answer, dict) else None
        if isinstance(message_id, int) and not isinstance(message_id, bool):
            message_id = str(message_id)
        if not isinstance(message_id, str) or not message_id.strip():
            # A 2xx without the documented message_id: not a send we can follow. Retrying could send
            # it twice, and nothing tells us it went, so it stops here with the answer kept.
            raise SmsSendError(f"{described} without a message_id", temporary=False,
                               http_status=response.status_code)
        balance = answer.get("balance")
        return SentSms(message_id=message_id.strip()[:64], balance=None if balance is None else str(balance))
