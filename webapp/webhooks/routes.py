"""Funding webhooks from Paystack and Flutterwave, and Flutterwave's bill-status event.

A bad or missing signature is a 401 and changes nothing. A valid one is confirmed through the
gateway's API before any credit (``funding.handle_webhook``); if the gateway cannot be asked just
now, or its secret is not configured here, we answer 503 so the gateway delivers the event again
later. A bill event only queues a status query of the payment it names (``bill_events``); a bill
event sent to the funding URL is handled the same way, and so is a payout's transfer event
(Paystack ``transfer.*`` at the Paystack URL; Flutterwave ``transfer.completed`` at either): it only
queues a check of the payout it names with the gateway (``payouts.webhooks``). Termii's SMS delivery report
(``/webhooks/termii``, the URL set in Termii's console) must carry a valid ``X-Termii-Signature``;
it only updates the status of the SMS it names (``sms_outbox.handle_delivery_report``).
"""
from __future__ import annotations

import logging

from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.extensions import limiter
from webapp.services import funding
from webapp.services.notify import sms_outbox
from webapp.services.payments import bill_events
from webapp.services.payouts import webhooks as payout_webhooks
from webapp.webhooks import bp

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = "120 per minute"
# Gateway and bill events are a few kilobytes; anything much larger is not from a gateway.
DEFAULT_MAX_BYTES = 64 * 1024


def _rate_limit() -> str:
    return current_app.config.get("WEBHOOK_RATE_LIMIT", DEFAULT_RATE_LIMIT)


def _error(message: str, status: int):
    return jsonify(error=message), status


def _body():
    """The raw body, or None when it is over ``WEBHOOK_MAX_BYTES``."""
    request.max_content_length = current_app.config.get("WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES)
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        return None


def _deliver_again(message: str):
    response, status = _error(message, 503)
    response.headers["Retry-After"] = "60"
    return response, status


@bp.route("/<any(paystack, flutterwave):gateway>", methods=["POST"])
@limiter.limit(_rate_limit)
def funding_event(gateway: str):
    raw_body = _body()
    if raw_body is None:
        return _error("body too large", 413)
    try:
        result = funding.handle_webhook(gateway, raw_body, request.headers)
    except funding.NotConfigured as exc:
        log.error("%s webhook refused: %s", gateway, exc)
        return _error(f"{gateway} webhooks are not configured on this server", 503)
    except funding.WebhookRejected as exc:
        log.warning("%s webhook rejected: %s", gateway, exc)
        return _error(str(exc), exc.status)
    except funding.VerificationUnavailable:
        return _deliver_again("could not verify the transaction yet; deliver again later")
    return jsonify(status="ok", outcome=result.outcome), 200


@bp.route("/flutterwave/bills", methods=["POST"])
@limiter.limit(_rate_limit)
def flutterwave_bill_event():
    """``singlebillpayment.status`` (the URL every bill payment sends as ``callback_url``)."""
    raw_body = _body()
    if raw_body is None:
        return _error("body too large", 413)
    try:
        result = bill_events.handle_webhook(raw_body, request.headers)
    except bill_events.NotConfigured:
        log.error("flutterwave bill webhook refused: FLUTTERWAVE_SECRET_HASH is not set")
        return _error("bill webhooks are not configured on this server (no Flutterwave secret hash)", 503)
    except bill_events.BillEventRejected as exc:
        log.warning("flutterwave bill webhook rejected: %s", exc)
        return _error(str(exc), exc.status)
    except bill_events.CheckUnavailable:
        return _deliver_again("could not queue the status check; deliver again later")
    if result.outcome == "ignored":
        return jsonify(status="ignored"), 200
    return jsonify(status="ok", outcome=result.outcome), 200


@bp.route("/flutterwave/transfers", methods=["POST"])
@limiter.limit(_rate_limit)
def flutterwave_transfer_event():
    """``transfer.completed`` (the ``callback_url`` every Flutterwave payout transfer sends): a hint
    that queues a check of the payout it names (``payouts.webhooks``)."""
    raw_body = _body()
    if raw_body is None:
        return _error("body too large", 413)
    if not current_app.config.get("FLUTTERWAVE_SECRET_HASH"):
        log.error("flutterwave transfer webhook refused: FLUTTERWAVE_SECRET_HASH is not set")
        return _error("transfer webhooks are not configured on this server (no Flutterwave secret hash)", 503)
    try:
        outcome = payout_webhooks.handle("flutterwave", raw_body, request.headers)
    except payout_webhooks.HintRejected as exc:
        log.warning("flutterwave transfer webhook rejected: %s", exc)
        return _error(str(exc), exc.status)
    except payout_webhooks.GatewayUnavailable:
        return _error("transfer webhooks are not configured on this server", 503)
    except payout_webhooks.CheckUnavailable:
        return _deliver_again("could not queue the check; deliver again later")
    return jsonify(status="ok", outcome=outcome), 200


@bp.route("/termii", methods=["POST"])
@limiter.limit(_rate_limit)
def termii_delivery_report():
    raw_body = _body()
    if raw_body is None:
        return _error("body too large", 413)
    try:
        outcome = sms_outbox.handle_delivery_report(raw_body, request.headers)
    except sms_outbox.ReportsNotConfigured:
        log.error("termii delivery report refused: TERMII_WEBHOOK_SECRET is not set")
        return _error("SMS delivery reports are not configured on this server", 503)
    except sms_outbox.ReportRejected as exc:
        log.warning("termii delivery report rejected: %s", exc)
        return _error(str(exc), exc.status)
    return jsonify(status="ok", outcome=outcome), 200
