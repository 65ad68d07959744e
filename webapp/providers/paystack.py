"""Wallet funding and saved-card charges through Paystack (amounts already in kobo).

Paystack answers ``{"status": true|false, "message", "data"}``. A reused reference gives
"Duplicate charge request"/"Duplicate Transaction Reference": a transaction already exists, so it
is ``duplicate_reference`` with an unknown outcome (verify it; never charge under a new reference).
``charge_authorization`` moves money, so a timeout, 5xx or unclear answer to it is outcome unknown.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from webapp.providers.amounts import plain_kobo
from webapp.providers.base import (
    CallLogger,
    CheckoutSession,
    DedicatedAccount,
    ErrorClass,
    FundingVerification,
    GatewayCustomer,
    PaymentErrorType,
    ProviderError,
    SavedCard,
)
from webapp.providers.http import ProviderHttp, Reply, header_value

REFERENCE = re.compile(r"^[A-Za-z0-9.=-]+$")
FUNDING_STATUS = {"success": "success", "failed": "failed", "abandoned": "abandoned", "reversed": "reversed"}
# Everything else Paystack may say (ongoing, pending, processing, queued, send_otp, ...) is not final.
NOT_FOUND_CODES = {"transaction_not_found"}


class PaystackFundingClient:
    """Checkout (initialize/verify), webhook signature check and saved-card charges."""

    gateway = "paystack"

    def __init__(self, base_url: str, secret_key: str, *, connect_timeout: float, read_timeout: float,
                 call_logger: CallLogger | None = None) -> None:
        self.http = ProviderHttp("paystack", base_url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                 secrets=(secret_key,), call_logger=call_logger)
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self._secret_key = secret_key

    def initialize(self, reference: str, amount_kobo: int, email: str, callback_url: str,
                   customer_name: str | None = None, phone: str | None = None) -> CheckoutSession:
        self._check_reference(reference, "initialize")
        metadata = {k: v for k, v in (("customer_name", customer_name), ("phone", phone)) if v}
        body = {"email": email, "amount": _kobo(amount_kobo), "reference": reference, "callback_url": callback_url,
                "metadata": metadata}
        reply = self.http.call("initialize", "POST", "transaction/initialize", headers=self._headers, body=body)
        data = self._data(reply, "initialize", moves_money=False)
        url = data.get("authorization_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise self._malformed("initialize", reply, "no authorization_url", moves_money=False)
        return CheckoutSession(reference=reference, checkout_url=url, raw=reply.redacted)

    def verify(self, reference: str) -> FundingVerification:
        self._check_reference(reference, "verify")
        reply = self.http.call("verify", "GET", f"transaction/verify/{quote(reference, safe='')}",
                               headers=self._headers)
        if reply.body.get("status") is not True and _not_found(reply):
            return FundingVerification(reference=reference, status="not_found", raw=reply.redacted)
        return self._verification(reference, reply, "verify", moves_money=False)

    def charge_authorization(self, email: str, amount_kobo: int, authorization_code: str,
                             reference: str) -> FundingVerification:
        """Charge a saved card. The result's status is the charge's truth; "pending" needs a verify."""
        self._check_reference(reference, "charge_authorization")
        body = {"email": email, "amount": _kobo(amount_kobo), "authorization_code": authorization_code,
                "reference": reference}
        reply = self.http.call("charge_authorization", "POST", "transaction/charge_authorization",
                               headers=self._headers, body=body, moves_money=True)
        return self._verification(reference, reply, "charge_authorization", moves_money=True)

    # -- dedicated virtual accounts (bank transfers) -------------------------------------------
    # Shapes from PaystackOSS/openapi: src/assets/openapi/paths/customer.yaml (CustomerCreate.yaml:
    # email required, first_name, last_name, phone; CustomerCreateResponse.yaml: customer_code, id)
    # and paths/dedicated_account.yaml (POST: DedicatedVirtualAccountCreate.yaml, customer +
    # preferred_bank; GET lists, filtered by the customer's numeric id and active;
    # DedicatedNubanCreateResponse.yaml: account_number, account_name, bank{name, id, slug}, active,
    # customer{customer_code}). None of these moves money, so a timeout is plainly transient.

    def create_customer(self, email: str, first_name: str, last_name: str, phone: str) -> GatewayCustomer:
        body = {"email": email, "first_name": first_name, "last_name": last_name, "phone": phone}
        reply = self.http.call("create_customer", "POST", "customer", headers=self._headers, body=body)
        data = self._data(reply, "create_customer", moves_money=False)
        code = data.get("customer_code")
        if not isinstance(code, str) or not code:
            raise self._malformed("create_customer", reply, "no customer_code", moves_money=False)
        customer_id = data.get("id")
        return GatewayCustomer(code=code, id=str(customer_id) if customer_id is not None else None,
                               raw=reply.redacted)

    def dedicated_accounts(self, customer_id: str) -> list[DedicatedAccount]:
        """The customer's active dedicated accounts (a lost answer to a create may have made one)."""
        reply = self.http.call("list_dedicated_accounts", "GET", "dedicated_account", headers=self._headers,
                               params={"customer": customer_id, "active": "true"})
        if reply.body.get("status") is not True:
            raise self._refusal("list_dedicated_accounts", reply, moves_money=False)
        items = reply.body.get("data")
        if not isinstance(items, list):
            raise self._malformed("list_dedicated_accounts", reply, "no list of accounts", moves_money=False)
        accounts = [_dedicated_account(item) for item in items if isinstance(item, Mapping)]
        return [account for account in accounts if account is not None and account.active]

    def create_dedicated_account(self, customer_code: str, preferred_bank: str) -> DedicatedAccount:
        body = {"customer": customer_code, "preferred_bank": preferred_bank}
        reply = self.http.call("create_dedicated_account", "POST", "dedicated_account", headers=self._headers,
                               body=body)
        account = _dedicated_account(self._data(reply, "create_dedicated_account", moves_money=False),
                                     raw=reply.redacted)
        if account is None:
            raise self._malformed("create_dedicated_account", reply, "no account_number, account_name or bank",
                                  moves_money=False)
        return account

    def verify_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """``x-paystack-signature`` must be the hex HMAC-SHA512 of the raw body (constant-time)."""
        given = header_value(headers, "x-paystack-signature").strip().lower()
        if not self._secret_key or not given:
            return False
        expected = hmac.new(self._secret_key.encode(), raw_body, hashlib.sha512).hexdigest()
        return hmac.compare_digest(expected.encode(), given.encode())

    # -- parsing -----------------------------------------------------------------------------
    def _verification(self, reference: str, reply: Reply, operation: str, *, moves_money: bool) -> FundingVerification:
        data = self._data(reply, operation, moves_money=moves_money)
        status = str(data.get("status", "")).strip().lower()
        if not status:
            raise self._malformed(operation, reply, "no transaction status", moves_money=moves_money)
        if str(data.get("reference", reference)) != reference:
            raise self._malformed(operation, reply, f"answer is for reference {data.get('reference')!r}",
                                  moves_money=moves_money)
        transaction_id = data.get("id")
        return FundingVerification(
            reference=reference, status=FUNDING_STATUS.get(status, "pending"),  # type: ignore[arg-type]
            amount_kobo=plain_kobo(data.get("amount")),
            currency=str(data["currency"]).upper() if data.get("currency") else None,
            gateway_transaction_id=str(transaction_id) if transaction_id is not None else None,
            saved_card=_saved_card(data.get("authorization")), raw=reply.redacted,
            channel=_channel(data), customer_code=_customer_code(data),
        )

    def _data(self, reply: Reply, operation: str, *, moves_money: bool) -> Mapping[str, Any]:
        if reply.body.get("status") is not True:
            raise self._refusal(operation, reply, moves_money=moves_money)
        data = reply.body.get("data")
        if not isinstance(data, Mapping):
            raise self._malformed(operation, reply, "no data", moves_money=moves_money)
        return data

    def _refusal(self, operation: str, reply: Reply, *, moves_money: bool) -> ProviderError:
        message = str(reply.body.get("message") or "")
        text = f"{message} {reply.body.get('code', '')}".lower()
        detail = message or f"HTTP {reply.status}"
        if reply.body.get("status") is not False:  # neither true nor false: we cannot tell what happened
            return self._malformed(operation, reply, "no status flag", moves_money=moves_money)
        if "duplicate" in text:
            return self.http.error(PaymentErrorType.DUPLICATE_REFERENCE, ErrorClass.OUTCOME_UNKNOWN,
                                   "This payment was already started; we are checking its status.",
                                   operation=operation, http_status=reply.status, raw=reply.body, detail=detail)
        if "rate_limit" in text or "rate limit" in text:
            return self.http.error(PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT,
                                   "Paystack is busy right now. We'll try again shortly.",
                                   operation=operation, http_status=reply.status, raw=reply.body, detail=detail)
        if "insufficient" in text:
            return self.http.error(PaymentErrorType.INSUFFICIENT_FUNDS, ErrorClass.PERMANENT,
                                   "The card has insufficient funds.", operation=operation,
                                   http_status=reply.status, raw=reply.body, detail=detail)
        return self.http.error(PaymentErrorType.VALIDATION_ERROR if reply.status == 400 else
                               PaymentErrorType.PROVIDER_ERROR, ErrorClass.PERMANENT,
                               f"Paystack declined this request: {message}" if message else
                               "Paystack declined this request.",
                               operation=operation, http_status=reply.status, raw=reply.body, detail=detail)

    def _malformed(self, operation: str, reply: Reply, detail: str, *, moves_money: bool) -> ProviderError:
        if moves_money:
            return self.http.error(PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN,
                                   "Paystack did not confirm this charge yet. We are checking its status; "
                                   "you will not be charged twice.", operation=operation, http_status=reply.status,
                                   raw=reply.body, detail=detail)
        return self.http.error(PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.TRANSIENT,
                               "Paystack sent an answer we could not read. Please try again shortly.",
                               operation=operation, http_status=reply.status, raw=reply.body, detail=detail)

    def _check_reference(self, reference: str, operation: str) -> None:
        if not isinstance(reference, str) or not REFERENCE.match(reference):
            raise self.http.error(PaymentErrorType.VALIDATION_ERROR, ErrorClass.PERMANENT,
                                  "This payment could not be started.", operation=operation,
                                  detail="Paystack references may contain only letters, digits, '-', '.' and '='")


def _kobo(amount_kobo: int) -> int:
    if isinstance(amount_kobo, bool) or not isinstance(amount_kobo, int) or amount_kobo <= 0:
        raise ValueError("amount must be a positive integer number of kobo")
    return amount_kobo


def _not_found(reply: Reply) -> bool:
    code = str(reply.body.get("code", "")).lower()
    message = str(reply.body.get("message", "")).lower()
    return reply.status == 404 or code in NOT_FOUND_CODES or "not found" in message


def _saved_card(authorization: Any) -> SavedCard | None:
    if not isinstance(authorization, Mapping) or not authorization.get("authorization_code"):
        return None

    def text(key: str) -> str | None:
        value = authorization.get(key)
        return str(value).strip() if value not in (None, "") else None

    return SavedCard(
        authorization_code=str(authorization["authorization_code"]), last4=text("last4"),
        brand=text("brand") or text("card_type"), exp_month=text("exp_month"), exp_year=text("exp_year"),
        reusable=authorization.get("reusable") is True,
    )


def _channel(data: Mapping[str, Any]) -> str | None:
    """The transaction's ``channel``, else its authorization's (a transfer into a dedicated account
    says "dedicated_nuban" there: paystack.com/docs/payments/dedicated-virtual-accounts/)."""
    authorization = data.get("authorization")
    value = data.get("channel") or (authorization.get("channel") if isinstance(authorization, Mapping) else None)
    return str(value).strip().lower() if value else None


def _customer_code(data: Mapping[str, Any]) -> str | None:
    customer = data.get("customer")
    code = customer.get("customer_code") if isinstance(customer, Mapping) else None
    return str(code) if code else None


def _dedicated_account(data: Mapping[str, Any], raw: Any = None) -> DedicatedAccount | None:
    bank = data.get("bank")
    number, name = data.get("account_number"), data.get("account_name")
    bank_name = bank.get("name") if isinstance(bank, Mapping) else None
    if not all(isinstance(value, str) and value.strip() for value in (number, name, bank_name)):
        return None
    return DedicatedAccount(account_number=number.strip(), account_name=name.strip(), bank_name=bank_name.strip(),
                            active=data.get("active") is not False, customer_code=_customer_code(data),
                            raw=raw if raw is not None else dict(data))
