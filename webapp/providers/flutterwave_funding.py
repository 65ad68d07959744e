"""Wallet funding through Flutterwave hosted checkout.

Credit only after ``verify`` says "success" and the amount, currency and reference match what we
asked for; the webhook (``verif-hash`` equal to our secret hash) only tells us when to verify.
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from webapp.providers.amounts import kobo_to_naira, naira_to_kobo
from webapp.providers.base import (
    CallLogger,
    CheckoutSession,
    ErrorClass,
    FundingVerification,
    PaymentErrorType,
    ProviderError,
)
from webapp.providers.flutterwave_common import (
    NOT_FOUND_WORDS,
    classify_refusal,
    data_of,
    envelope_ok,
    message_text,
    status_of,
)
from webapp.providers.http import ProviderHttp, Reply, header_value

FUNDING_STATUS = {
    "successful": "success", "success": "success", "completed": "success",
    "failed": "failed", "error": "failed",
    "cancelled": "abandoned", "canceled": "abandoned", "abandoned": "abandoned",
    "reversed": "reversed", "refunded": "reversed",
    "pending": "pending", "processing": "pending",
}


class FlutterwaveFundingClient:
    """Hosted checkout (``POST /payments``) and verification by our ``tx_ref``."""

    gateway = "flutterwave"

    def __init__(self, base_url: str, secret_key: str, secret_hash: str = "", *, connect_timeout: float,
                 read_timeout: float, call_logger: CallLogger | None = None, currency: str = "NGN") -> None:
        self.http = ProviderHttp("flutterwave", base_url, connect_timeout=connect_timeout,
                                 read_timeout=read_timeout, secrets=(secret_key, secret_hash),
                                 call_logger=call_logger)
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self._secret_hash = secret_hash
        self.currency = currency

    def initialize(self, reference: str, amount_kobo: int, email: str, callback_url: str,
                   customer_name: str | None = None, phone: str | None = None) -> CheckoutSession:
        customer: dict[str, Any] = {"email": email}
        if customer_name:
            customer["name"] = customer_name
        if phone:
            customer["phonenumber"] = phone
        body = {"tx_ref": reference, "amount": kobo_to_naira(amount_kobo), "currency": self.currency,
                "redirect_url": callback_url, "customer": customer}
        reply = self.http.call("initialize", "POST", "payments", headers=self._headers, body=body)
        if not envelope_ok(reply.body):
            raise self._refusal("initialize", reply)
        data = data_of(reply.body)
        link = data.get("link") if data else None
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise self._malformed("initialize", reply, "no checkout link")
        return CheckoutSession(reference=reference, checkout_url=link, raw=reply.redacted)

    def verify(self, reference: str) -> FundingVerification:
        reply = self.http.call("verify", "GET", "transactions/verify_by_reference", headers=self._headers,
                               params={"tx_ref": reference})
        return self._verification(reference, reply)

    def verify_by_id(self, transaction_id: str, reference: str) -> FundingVerification:
        """Verify by Flutterwave's transaction id (from a webhook); the tx_ref must still match."""
        reply = self.http.call("verify", "GET", f"transactions/{quote(str(transaction_id), safe='')}/verify",
                               headers=self._headers)
        return self._verification(reference, reply)

    def _verification(self, reference: str, reply: Reply) -> FundingVerification:
        if not envelope_ok(reply.body):
            text = message_text(reply.body).lower()
            if reply.status == 404 or any(word in text for word in NOT_FOUND_WORDS):
                return FundingVerification(reference=reference, status="not_found", raw=reply.redacted)
            raise self._refusal("verify", reply)
        data = data_of(reply.body)
        if data is None or not status_of(data):
            raise self._malformed("verify", reply, "no transaction status")
        if str(data.get("tx_ref", "")) != reference:
            raise self._malformed("verify", reply, f"answer is for tx_ref {data.get('tx_ref')!r}")
        transaction_id = data.get("id")
        return FundingVerification(
            reference=reference, status=FUNDING_STATUS.get(status_of(data), "pending"),  # type: ignore[arg-type]
            amount_kobo=naira_to_kobo(data.get("amount")),
            currency=str(data["currency"]).upper() if data.get("currency") else None,
            gateway_transaction_id=str(transaction_id) if transaction_id is not None else None,
            saved_card=None,  # Flutterwave card tokens are not used for direct charges here
            raw=reply.redacted,
        )

    def verify_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """``verif-hash`` must equal our secret hash (constant-time). Without a hash, refuse all."""
        if not self._secret_hash:
            return False
        given = header_value(headers, "verif-hash")
        return bool(given) and hmac.compare_digest(given.encode(), self._secret_hash.encode())

    def _refusal(self, operation: str, reply: Reply) -> ProviderError:
        error_type, error_class, message = classify_refusal(reply, default=PaymentErrorType.PROVIDER_ERROR,
                                                            moves_money=False)
        return self.http.error(error_type, error_class, message, operation=operation, http_status=reply.status,
                               raw=reply.body, detail=message_text(reply.body) or f"HTTP {reply.status}")

    def _malformed(self, operation: str, reply: Reply, detail: str) -> ProviderError:
        return self.http.error(PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.TRANSIENT,
                               "Flutterwave sent an answer we could not read. Please try again shortly.",
                               operation=operation, http_status=reply.status, raw=reply.body, detail=detail)
