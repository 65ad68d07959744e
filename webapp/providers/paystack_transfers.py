"""Payouts through Paystack Transfers (amounts in kobo, as Paystack takes them).

What Paystack publishes, and what this client does with it:

- Banks: ``GET /bank?currency=NGN``, ``data[].code``/``name`` (PaystackOSS/openapi
  src/assets/openapi/paths/bank.yaml; PaystackOSS/doc-code-snippets
  src/doc/transfers/recipients/list-bank/index.sh).
- Resolve: ``GET /bank/resolve?account_number=&bank_code=``, ``data.account_name``
  (paths/bank_resolve.yaml; doc-code-snippets src/doc/transfers/single/verify-account/index.json).
  Any refusal that is not a rate limit or an outage is the account's: permanent ``invalid_customer_id``.
- Recipient: ``POST /transferrecipient`` {type "nuban", name, account_number, bank_code, currency},
  ``data.recipient_code``; "A duplicate account number will lead to the retrieval of the existing
  record" (paths/transferrecipient.yaml), so creating one twice is harmless.
- Initiate: ``POST /transfer`` {source "balance", amount (kobo), recipient, reference, reason,
  currency} (schemas/TransferInitiate.yaml, TransferBase.yaml). The reference must be "a lowercase
  alphanumeric string with only -,_ symbols allowed", at least 16 characters (TransferBase.yaml):
  ours (``payout_5_9f2c...``, 20-40 of ``[a-z0-9_-]``) fit. The answer's ``data.status`` is
  usually ``pending``; ``otp`` when the integration requires OTP confirmation
  (paystack.com/docs/transfers/managing-transfers/, "Transfer requires OTP to continue";
  doc-code-snippets src/doc/transfers/single/initiate-transfer-otp/index.json). Payouts need
  OTP disabled on the integration: an ``otp`` transfer stays pending (never finalized here) and
  is abandoned by Paystack after 30 minutes.
- Statuses (paystack.com/docs/transfers/how-transfers-work/): pending, otp, received (not
  conclusive) -> ``pending`` (``queued`` too, a word older answers use); success -> ``success``
  ("doesn't equate to instant credit"); failed, abandoned (OTP not given in 30 min), blocked,
  rejected -> ``failed``; reversed ("the transfer amount is returned") -> ``reversed``.
- A reused reference is refused ("This reference has already been used on a prior transfer",
  paystack.com/docs/api/errors/transfer): ``duplicate_reference``, outcome unknown: verify.
  Resending under the same reference is Paystack's own advice for a transfer whose status is
  not conclusive ("you should use the same transfer reference", how-transfers-work), so it can
  never pay twice.
- Verify: ``GET /transfer/verify/<reference>`` by our reference (paths/
  transfer_verify_{reference}.yaml); an unknown reference is HTTP 404 ``{"status": false,
  "message": "Transfer not found"}`` (doc-code-snippets src/api/transfers/verify/response.json),
  which is the authoritative ``not_found``. Fees: ``fee_charged`` in kobo
  (schemas/TransferFetchResponse.yaml; verify example ``"fee_charged": 1000``).
- Webhooks: ``transfer.success``, ``transfer.failed``, ``transfer.reversed`` with the transfer as
  ``data`` (doc-code-snippets src/doc/payments/webhooks/events/transfer-*.json), signed like
  every Paystack event with ``x-paystack-signature`` = hex HMAC-SHA512 of the raw body keyed
  with the secret key (paystack.com/docs/payments/webhooks/).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from webapp.providers.amounts import plain_kobo
from webapp.providers.base import CallLogger, ErrorClass, PaymentErrorType, ProviderError
from webapp.providers.http import ProviderHttp, Reply
from webapp.providers.paystack import PaystackFundingClient
from webapp.providers.transfers import Bank, ResolvedAccount, TransferHint, TransferResult, TransferStatus

REFERENCE = re.compile(r"^[a-z0-9_-]{16,}$")
STATUS: dict[str, TransferStatus] = {
    "pending": "pending", "otp": "pending", "received": "pending", "queued": "pending", "processing": "pending",
    "success": "success",
    "failed": "failed", "abandoned": "failed", "blocked": "failed", "rejected": "failed",
    "reversed": "reversed",
}
EVENTS = ("transfer.success", "transfer.failed", "transfer.reversed")
T = PaymentErrorType


class PaystackTransferClient:
    """Banks, account resolve, recipients, transfers and their verification through Paystack."""

    gateway = "paystack"

    def __init__(self, base_url: str, secret_key: str, *, connect_timeout: float, read_timeout: float,
                 call_logger: CallLogger | None = None) -> None:
        # Webhooks are signed as for funding events: that client's check is the one check.
        self._signatures = PaystackFundingClient(base_url, secret_key, connect_timeout=connect_timeout,
                                                 read_timeout=read_timeout, call_logger=call_logger)
        self.http: ProviderHttp = self._signatures.http
        self._headers = {"Authorization": f"Bearer {secret_key}"}

    def list_banks(self) -> list[Bank]:
        reply = self.http.call("list_banks", "GET", "bank", headers=self._headers, params={"currency": "NGN"})
        if reply.body.get("status") is not True or not isinstance(reply.body.get("data"), list):
            raise self._refusal("list_banks", reply, moves_money=False)
        return [Bank(code=str(item["code"]), name=str(item["name"])) for item in reply.body["data"]
                if isinstance(item, Mapping) and item.get("code") and item.get("name")
                and item.get("active", True) is not False and item.get("is_deleted") is not True]

    def resolve_account(self, account_number: str, bank_code: str) -> ResolvedAccount:
        reply = self.http.call("resolve_account", "GET", "bank/resolve", headers=self._headers,
                               params={"account_number": account_number, "bank_code": bank_code})
        if reply.body.get("status") is not True:
            error = self._refusal("resolve_account", reply, moves_money=False)
            if error.is_permanent and error.error_type is not T.AUTHENTICATION_ERROR:
                return_message = "The bank could not find this account. Please check the number and the bank."
                raise self.http.error(T.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT, return_message,
                                      operation="resolve_account", http_status=reply.status, raw=reply.body,
                                      detail=error.detail)
            raise error
        data = self._data(reply, "resolve_account", moves_money=False)
        name = data.get("account_name")
        if not isinstance(name, str) or not name.strip():
            raise self._malformed("resolve_account", reply, "no account_name", moves_money=False)
        return ResolvedAccount(account_number=account_number, bank_code=bank_code, account_name=name.strip(),
                               raw=reply.redacted)

    def create_recipient(self, account: ResolvedAccount) -> str | None:
        body = {"type": "nuban", "name": account.account_name, "account_number": account.account_number,
                "bank_code": account.bank_code, "currency": "NGN"}
        reply = self.http.call("create_recipient", "POST", "transferrecipient", headers=self._headers, body=body)
        code = self._data(reply, "create_recipient", moves_money=False).get("recipient_code")
        if not isinstance(code, str) or not code:
            raise self._malformed("create_recipient", reply, "no recipient_code", moves_money=False)
        return code

    def initiate(self, reference: str, amount_kobo: int, account: ResolvedAccount, recipient: str | None,
                 narration: str) -> TransferResult:
        self._check_reference(reference, "initiate")
        if isinstance(amount_kobo, bool) or not isinstance(amount_kobo, int) or amount_kobo <= 0:
            raise ValueError("amount must be a positive integer number of kobo")
        if not recipient:
            raise ValueError("Paystack sends to a recipient_code: call create_recipient first")
        body = {"source": "balance", "amount": amount_kobo, "recipient": recipient, "reference": reference,
                "reason": narration, "currency": "NGN"}
        reply = self.http.call("initiate", "POST", "transfer", headers=self._headers, body=body, moves_money=True)
        return self._result(reference, reply, "initiate", moves_money=True)

    def verify(self, reference: str, provider_id: str | None = None) -> TransferResult:
        """By our reference, the key Paystack's verify endpoint takes; 404 "Transfer not found" is
        ``not_found``. ``provider_id`` (the transfer_code), when given, must match the answer."""
        self._check_reference(reference, "verify")
        reply = self.http.call("verify", "GET", f"transfer/verify/{quote(reference, safe='')}", headers=self._headers)
        if reply.status == 404 and reply.body.get("status") is False \
                and "not found" in str(reply.body.get("message", "")).lower():
            return TransferResult(reference=reference, status="not_found", raw=reply.redacted)
        result = self._result(reference, reply, "verify", moves_money=False)
        if provider_id and result.provider_id and result.provider_id != provider_id:
            raise self._malformed("verify", reply, f"answer is for transfer {result.provider_id!r}", moves_money=False)
        return result

    def verify_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        return self._signatures.verify_webhook(raw_body, headers)

    def transfer_hint(self, body: Mapping[str, Any]) -> TransferHint | None:
        event, data = body.get("event"), body.get("data")
        if event not in EVENTS or not isinstance(data, Mapping) or not data.get("reference"):
            return None
        code = data.get("transfer_code")
        return TransferHint(reference=str(data["reference"]), status=str(data.get("status") or "").strip().lower(),
                            event=str(event), provider_id=str(code) if code else None)

    # -- parsing -----------------------------------------------------------------------------
    def _result(self, reference: str, reply: Reply, operation: str, *, moves_money: bool) -> TransferResult:
        data = self._data(reply, operation, moves_money=moves_money)
        word = str(data.get("status") or "").strip().lower()
        if word not in STATUS:
            raise self._malformed(operation, reply, f"unknown transfer status {word!r}", moves_money=moves_money)
        if str(data.get("reference", reference)) != reference:
            raise self._malformed(operation, reply, f"answer is for reference {data.get('reference')!r}",
                                  moves_money=moves_money)
        status = STATUS[word]
        said = data.get("gateway_response") or data.get("failures") or ""
        message = self.http.redactor.text(str(said)) if status in ("failed", "reversed") and said else ""
        code = data.get("transfer_code")
        return TransferResult(reference=reference, status=status, provider_id=str(code) if code else None,
                              amount_kobo=plain_kobo(data.get("amount")), fee_kobo=plain_kobo(data.get("fee_charged")),
                              message=message, raw=reply.redacted)

    # The envelope reads as for funding answers; the refusals and their words are this client's own.
    _data = PaystackFundingClient._data

    def _refusal(self, operation: str, reply: Reply, *, moves_money: bool) -> ProviderError:
        message = str(reply.body.get("message") or "")
        text = f"{message} {reply.body.get('code', '')}".lower()
        detail = message or f"HTTP {reply.status}"

        def error(error_type: PaymentErrorType, error_class: ErrorClass, words: str) -> ProviderError:
            return self.http.error(error_type, error_class, words, operation=operation, http_status=reply.status,
                                   raw=reply.body, detail=detail)

        if reply.body.get("status") is not False:
            return self._malformed(operation, reply, "no status flag", moves_money=moves_money)
        if "duplicate" in text or ("reference" in text and "already" in text):
            return error(T.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN,
                         "This transfer was already sent; we are checking its status.")
        if "rate_limit" in text or "rate limit" in text:
            return error(T.RATE_LIMITED, ErrorClass.TRANSIENT, "Paystack is busy right now. We'll try again shortly.")
        # "Your balance is not enough to fulfill this request" (managing-transfers): nothing was
        # created, so the same reference can go again once the balance is topped up.
        if "balance is not enough" in text or "insufficient" in text:
            return error(T.INSUFFICIENT_FUNDS, ErrorClass.TRANSIENT,
                         "The payout balance at Paystack is too low right now. We'll try again later.")
        return error(T.VALIDATION_ERROR if reply.status in (400, 422) else T.PROVIDER_ERROR, ErrorClass.PERMANENT,
                     f"Paystack refused this transfer: {message}" if message else "Paystack refused this transfer.")

    def _malformed(self, operation: str, reply: Reply, detail: str, *, moves_money: bool) -> ProviderError:
        if moves_money:
            return self.http.error(T.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN,
                                   "Paystack did not confirm this transfer yet. We are checking its status; "
                                   "it will not be sent twice.", operation=operation, http_status=reply.status,
                                   raw=reply.body, detail=detail)
        return self.http.error(T.MALFORMED_RESPONSE, ErrorClass.TRANSIENT,
                               "Paystack sent an answer we could not read. Please try again shortly.",
                               operation=operation, http_status=reply.status, raw=reply.body, detail=detail)

    def _check_reference(self, reference: str, operation: str) -> None:
        if not isinstance(reference, str) or not REFERENCE.match(reference):
            raise self.http.error(T.VALIDATION_ERROR, ErrorClass.PERMANENT, "This transfer could not be started.",
                                  operation=operation,
                                  detail="Paystack transfer references are lowercase letters, digits, '-' and '_', "
                                         "at least 16 characters")
