"""Termii's Messaging API as the sandbox speaks it (base ``<sandbox>/termii``).

    POST /api/sms/send  {to, from, sms, type: "plain", channel: generic|dnd|whatsapp, api_key}
         -> 200 {"message_id": "<digits>", "message": "Successfully Sent", "balance": <number>, "user": ...}

as https://developers.termii.com/messaging-api documents it. The API key is in the body (Termii's
way); a wrong one is HTTP 401 ``{"message": "Invalid API key"}`` (the sandbox's wording: Termii's
error page gives no body). A bad body is HTTP 400 ``{"message": ...}``; the sandbox takes one
number per send (the product never sends to a list).

After a send it POSTs the outbound-message delivery report of
https://developer.termii.com/events-and-reports to the ``termii_webhook_url`` knob (the webhook
URL one sets in Termii's console), ``termii_report_delay`` seconds later, with
``X-Termii-Signature``: hex HMAC-SHA512 of the body with the sandbox's secret key. Its fields are
the documented sample's (``type: "outbound"``, ``id``, ``message_id``, ``receiver`` without a plus,
``sender``, ``message``, ``sent_at`` "YYYY-MM-DD HH:MM:SS", ``cost``, ``command``, ``status``,
``channel``); a delivered message's status is the sample's own ``"DELIVERED | Message delivered to
handset"``, a failed one's a word from the page's status table.

Test numbers (in E.164; Termii's wire drops the plus):
    +2348090000001   reported "Rejected"
    +2348090000002   reported "DND Active on Phone Number"
    +2348090000503   the first 2 sends to it answer HTTP 503 and send nothing; then as normal
    any other number delivered ("DELIVERED | Message delivered to handset")
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time

from flask import Blueprint, jsonify

from webapp.sandbox import funding
from webapp.sandbox.keys import SANDBOX_CREDENTIALS
from webapp.sandbox.wire import request_body, same_secret, state

bp = Blueprint("sandbox_termii", __name__)

REJECTED = "2348090000001"
DND_ACTIVE = "2348090000002"
UNAVAILABLE_TWICE = "2348090000503"
DELIVERED_STATUS = "DELIVERED | Message delivered to handset"
REPORTED = {REJECTED: "Rejected", DND_ACTIVE: "DND Active on Phone Number"}
_NUMBER = re.compile(r"^\d{10,15}$")
_START_BALANCE = 1000.0
_COST = 3.9
CHANNELS = ("generic", "dnd", "whatsapp")
SIGNATURE_HEADER = "X-Termii-Signature"


def _refuse(message: str, status: int = 400):
    return jsonify({"message": message}), status


@bp.post("/api/sms/send")
def send():
    sandbox = state()
    body = request_body()
    if not same_secret(str(body.get("api_key") or ""), SANDBOX_CREDENTIALS["TERMII_API_KEY"]):
        return _refuse("Invalid API key", 401)
    to, sender, text = body.get("to"), body.get("from"), body.get("sms")
    if not isinstance(to, str) or not _NUMBER.match(to):
        return _refuse("to must be one phone number in international format, like 2347880234567")
    if not isinstance(sender, str) or not 3 <= len(sender) <= 11:
        return _refuse("from must be a sender ID of 3 to 11 characters")
    if not isinstance(text, str) or not text.strip():
        return _refuse("sms is required")
    if body.get("type") != "plain":
        return _refuse('type must be "plain"')
    if body.get("channel") not in CHANNELS:
        return _refuse("channel must be generic, dnd or whatsapp")
    if to == UNAVAILABLE_TWICE and sandbox.count_call("termii", "send", to) <= 2:
        return _refuse("Service temporarily unavailable", 503)

    message_id = str(sandbox.next_id() * 1_000_000_007)
    sent_at = sandbox.now().strftime("%Y-%m-%d %H:%M:%S")
    with sandbox.lock:
        balance = round(_START_BALANCE - _COST * (len(sandbox.sms) + 1), 2)
        record = {"message_id": message_id, "to": to, "from": sender, "sms": text, "channel": body["channel"],
                  "sent_at": sent_at, "report": REPORTED.get(to, DELIVERED_STATUS), "report_delivery": None}
        sandbox.sms.append(record)
    _report_later(sandbox, record)
    return jsonify({"message_id": message_id, "message": "Successfully Sent", "balance": balance,
                    "user": "Utility Autopay Sandbox"})


def delivery_report(record: dict) -> dict:
    return {"type": "outbound", "id": f"req-{record['message_id']}", "message_id": record["message_id"],
            "receiver": record["to"], "sender": record["from"], "message": record["sms"],
            "sent_at": record["sent_at"], "cost": str(_COST), "command": "deliver", "status": record["report"],
            "channel": record["channel"]}


def _report_later(sandbox, record: dict) -> None:
    url = sandbox.knobs.termii_webhook_url
    if not url:
        return
    raw = json.dumps(delivery_report(record)).encode()
    secret = SANDBOX_CREDENTIALS["TERMII_WEBHOOK_SECRET"].encode()
    headers = {SIGNATURE_HEADER: hmac.new(secret, raw, hashlib.sha512).hexdigest()}
    delay = sandbox.knobs.termii_report_delay

    def later():
        time.sleep(delay)
        delivered = funding.deliver(sandbox, url, raw, headers, gateway="termii", event="outbound",
                                    reference=record["message_id"])
        with sandbox.lock:
            record["report_delivery"] = delivered["status_code"] or delivered["error"]

    threading.Thread(target=later, daemon=True, name=f"termii-report-{record['message_id']}").start()
