"""Payouts through Flutterwave v3 Transfers (amounts in naira on the wire, int kobo here).

What Flutterwave publishes, and what this client does with it (the official SDK
Flutterwave/Node-v3 shows each call; developer.flutterwave.com/reference/endpoints/transfers/):

- Banks: ``GET /v3/banks/NG``, ``data[].code``/``name`` (Node-v3 services/banks/rave.banks-country.js,
  documentation/banks.md).
- Resolve: ``POST /v3/accounts/resolve`` {account_number, account_bank}, ``data.account_name``
  (services/misc/rave.resolve.account.js, documentation/misc.md "Account details fetched").
- No recipient step: each transfer carries the account (``create_recipient`` returns None).
- Initiate: ``POST /v3/transfers`` {account_bank, account_number, amount, narration, currency,
  reference, callback_url, debit_currency} (services/transfers/rave.initiate.js; schema
  ``transferSchema`` in services/schema/create.js: ``reference`` at most 100 characters, no
  character rule, so ours fit). ``amount`` is naira ("Amount is in Naira"; the samples send 5500
  for ₦5,500). ``callback_url``: "Flutterwave would pass the final transfer response to this
  callback url" (API reference). The answer is "Transfer Queued Successfully" with
  ``data.status`` ``NEW`` ("queued for processing") and ``data.id`` (documentation/transfers.md).
- Statuses: NEW, PENDING -> ``pending``; SUCCESSFUL -> ``success``; FAILED -> ``failed``, with the
  reason in ``complete_message`` ("DISBURSE FAILED: ...", transfers.md's listing sample).
  v3 names no reversal status; ``REVERSED`` (the word of the v4 reference's
  ``reversal.reconciliation_status``) -> ``reversed``. Any other word raises rather than guess.
- Fees: ``data.fee`` in naira, possibly with three decimals (26.875): rounded half up to kobo.
- Lookup: ``GET /v3/transfers/<id>`` by Flutterwave's numeric id only (services/transfers/
  rave.fetch.js: "the numeric ID of the transfer ... returned in the call to create a transfer
  as data.id"). v3 documents no lookup by our reference (the listing ``GET /v3/transfers``
  filters by page and status), so ``verify`` without the id, or an id Flutterwave then cannot
  find, raises a transient error: it never answers ``not_found``, and a transfer whose initiate
  answer was lost is known only from its ``transfer.completed`` webhook (which carries the id,
  see ``transfer_hint``) or by an operator.
- A reused reference: not documented for transfers; any refusal that says "duplicate" or
  "already exists" is ``duplicate_reference`` with an unknown outcome. Resending under the same
  reference is therefore not shown safe by anything Flutterwave publishes.
- Webhook: ``transfer.completed`` (``"event.type": "Transfer"``, the transfer in ``data``) for
  both success and failure (the v3 webhooks page, "Successful Transfers" sample), with the
  ``verif-hash`` header equal to the dashboard's secret hash, checked as for funding events.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from webapp.providers.amounts import kobo_to_naira, naira_to_kobo
from webapp.providers.base import CallLogger, ErrorClass, PaymentErrorType, ProviderError
from webapp.providers.flutterwave_common import NOT_FOUND_WORDS, classify_refusal, data_of, envelope_ok, message_text
from webapp.providers.flutterwave_funding import FlutterwaveFundingClient
from webapp.providers.http import ProviderHttp, Reply
from webapp.providers.transfers import Bank, ResolvedAccount, TransferHint, TransferResult, TransferStatus

STATUS: dict[str, TransferStatus] = {"NEW": "pending", "PENDING": "pending", "SUCCESSFUL": "success",
                                     "FAILED": "failed", "REVERSED": "reversed"}
MAX_REFERENCE = 100
T = PaymentErrorType


class FlutterwaveTransferClient:
    """Banks, account resolve, transfers and their lookup by id through Flutterwave v3."""

    gateway = "flutterwave"

    def __init__(self, base_url: str, secret_key: str, secret_hash: str = "", *, connect_timeout: float,
                 read_timeout: float, call_logger: CallLogger | None = None, callback_url: str | None = None) -> None:
        # Webhooks carry the same verif-hash as funding events: that client's check is the one check.
        self._signatures = FlutterwaveFundingClient(base_url, secret_key, secret_hash, connect_timeout=connect_timeout,
                                                    read_timeout=read_timeout, call_logger=call_logger)
        self.http: ProviderHttp = self._signatures.http
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self.callback_url = callback_url

    def list_banks(self) -> list[Bank]:
        reply = self.http.call("list_banks", "GET", "banks/NG", headers=self._headers)
        items = reply.body.get("data")
        if not envelope_ok(reply.body) or not isinstance(items, list):
            raise self._refusal("list_banks", reply, moves_money=False)
        return [Bank(code=str(item["code"]), name=str(item["name"])) for item in items
                if isinstance(item, Mapping) and item.get("code") and item.get("name")]

    def resolve_account(self, account_number: str, bank_code: str) -> ResolvedAccount:
        body = {"account_number": account_number, "account_bank": bank_code}
        reply = self.http.call("resolve_account", "POST", "accounts/resolve", headers=self._headers, body=body)
        if not envelope_ok(reply.body):
            error = self._refusal("resolve_account", reply, moves_money=False)
            if error.is_permanent:
                raise self.http.error(T.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT,
                                      "The bank could not find this account. Please check the number and the bank.",
                                      operation="resolve_account", http_status=reply.status, raw=reply.body,
                                      detail=error.detail)
            raise error
        data = data_of(reply.body)
        name = data.get("account_name") if data else None
        if not isinstance(name, str) or not name.strip():
            raise self._malformed("resolve_account", reply, "no account_name", moves_money=False)
        return ResolvedAccount(account_number=account_number, bank_code=bank_code, account_name=name.strip(),
                               raw=reply.redacted)

    def create_recipient(self, account: ResolvedAccount) -> str | None:
        return None  # Flutterwave takes the account on each transfer

    def initiate(self, reference: str, amount_kobo: int, account: ResolvedAccount, recipient: str | None,
                 narration: str) -> TransferResult:
        if not isinstance(reference, str) or not reference or len(reference) > MAX_REFERENCE:
            raise self.http.error(T.VALIDATION_ERROR, ErrorClass.PERMANENT, "This transfer could not be started.",
                                  operation="initiate", detail="Flutterwave references are 1-100 characters")
        if isinstance(amount_kobo, bool) or not isinstance(amount_kobo, int) or amount_kobo <= 0:
            raise ValueError("amount must be a positive integer number of kobo")
        body: dict[str, Any] = {"account_bank": account.bank_code, "account_number": account.account_number,
                                "amount": kobo_to_naira(amount_kobo), "narration": narration, "currency": "NGN",
                                "reference": reference, "debit_currency": "NGN"}
        if self.callback_url:
            body["callback_url"] = self.callback_url
        reply = self.http.call("initiate", "POST", "transfers", headers=self._headers, body=body, moves_money=True)
        if not envelope_ok(reply.body):
            raise self._refusal("initiate", reply, moves_money=True)
        return self._result(reference, reply, "initiate", moves_money=True)

    def verify(self, reference: str, provider_id: str | None = None) -> TransferResult:
        """By Flutterwave's transfer id, the only key v3's lookup takes. Without it, or when the id
        is not found, the answer cannot be trusted, so this raises (transient), never ``not_found``."""
        if not provider_id:
            raise self.http.error(T.PROVIDER_ERROR, ErrorClass.TRANSIENT,
                                  "We are still waiting for Flutterwave to report on this transfer.",
                                  operation="verify", detail="Flutterwave v3 looks transfers up by their id only; "
                                  "this one has none yet (wait for its transfer.completed webhook)")
        reply = self.http.call("verify", "GET", f"transfers/{quote(str(provider_id), safe='')}", headers=self._headers)
        if not envelope_ok(reply.body):
            text = message_text(reply.body).lower()
            if reply.status == 404 or any(word in text for word in NOT_FOUND_WORDS):
                raise self.http.error(T.PROVIDER_ERROR, ErrorClass.TRANSIENT,
                                      "We are still waiting for Flutterwave to report on this transfer.",
                                      operation="verify", http_status=reply.status, raw=reply.body,
                                      detail=f"transfer id {provider_id} not found; an id Flutterwave gave us "
                                             "is no proof of 'no record'")
            raise self._refusal("verify", reply, moves_money=False)
        return self._result(reference, reply, "verify", moves_money=False)

    def verify_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        return self._signatures.verify_webhook(raw_body, headers)

    def transfer_hint(self, body: Mapping[str, Any]) -> TransferHint | None:
        data = body.get("data")
        if body.get("event") != "transfer.completed" or not isinstance(data, Mapping) or not data.get("reference"):
            return None
        transfer_id = data.get("id")
        return TransferHint(reference=str(data["reference"]), status=str(data.get("status") or "").strip().lower(),
                            event="transfer.completed",
                            provider_id=str(transfer_id) if transfer_id not in (None, "") else None)

    # -- parsing -----------------------------------------------------------------------------
    def _result(self, reference: str, reply: Reply, operation: str, *, moves_money: bool) -> TransferResult:
        data = data_of(reply.body)
        word = str(data.get("status") or "").strip().upper() if data else ""
        if data is None or word not in STATUS:
            raise self._malformed(operation, reply, f"unknown transfer status {word!r}", moves_money=moves_money)
        if str(data.get("reference", "")) != reference:
            raise self._malformed(operation, reply, f"answer is for reference {data.get('reference')!r}",
                                  moves_money=moves_money)
        status = STATUS[word]
        said = data.get("complete_message")
        message = self.http.redactor.text(str(said)) if status in ("failed", "reversed") and said else ""
        transfer_id = data.get("id")
        return TransferResult(reference=reference, status=status,
                              provider_id=str(transfer_id) if transfer_id not in (None, "") else None,
                              amount_kobo=naira_to_kobo(data.get("amount")), fee_kobo=naira_to_kobo(data.get("fee")),
                              message=message, raw=reply.redacted)

    def _refusal(self, operation: str, reply: Reply, *, moves_money: bool) -> ProviderError:
        error_type, error_class, message = classify_refusal(reply, default=T.PROVIDER_ERROR, moves_money=moves_money)
        return self.http.error(error_type, error_class, message, operation=operation, http_status=reply.status,
                               raw=reply.body, detail=message_text(reply.body) or f"HTTP {reply.status}")

    def _malformed(self, operation: str, reply: Reply, detail: str, *, moves_money: bool) -> ProviderError:
        if moves_money:
            return self.http.error(T.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN,
                                   "Flutterwave did not confirm this transfer yet. We are checking its status; "
                                   "it will not be sent twice.", operation=operation, http_status=reply.status,
                                   raw=reply.body, detail=detail)
        return self.http.error(T.MALFORMED_RESPONSE, ErrorClass.TRANSIENT,
                               "Flutterwave sent an answer we could not read. Please try again shortly.",
                               operation=operation, http_status=reply.status, raw=reply.body, detail=detail)
