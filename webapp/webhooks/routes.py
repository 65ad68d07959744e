"""Funding webhooks from Paystack and Flutterwave.

A bad or missing signature is a 401 and changes nothing. A valid one is confirmed through the
gateway's API before any credit (``funding.handle_webhook``); if the gateway cannot be asked just
now we answer 503 so the gateway delivers the event again later.
"""
from __future__ import annotations

import logging

from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..extensions import limiter
from ..services import funding
from . import bp

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = "120 per minute"
# Funding events are a few kilobytes; anything much larger is not from a gateway.
DEFAULT_MAX_BYTES = 64 * 1024


def _rate_limit() -> str:
    return current_app.config.get("WEBHOOK_RATE_LIMIT", DEFAULT_RATE_LIMIT)


def _error(message: str, status: int):
    return jsonify(error=message), status


@bp.route("/<any(paystack, flutterwave):gateway>", methods=["POST"])
@limiter.limit(_rate_limit)
def funding_event(gateway: str):
    request.max_content_length = current_app.config.get("WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES)
    try:
        raw_body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _error("body too large", 413)
    try:
        result = funding.handle_webhook(gateway, raw_body, request.headers)
    except funding.WebhookRejected as exc:
        log.warning("%s webhook rejected: %s", gateway, exc)
        return _error(str(exc), exc.status)
    except funding.VerificationUnavailable:
        response = _error("could not verify the transaction yet; deliver again later", 503)
        response[0].headers["Retry-After"] = "60"
        return response
    return jsonify(status="ok", outcome=result.outcome), 200
