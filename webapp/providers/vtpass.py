"""VTpass bills client (electricity, cable TV, internet, water where offered).

Our payment reference is the first VTpass ``request_id``, so it must follow VTpass's rule: build it
with ``reference_for()`` (or ``make_request_id(suffix)``). Codes are classified in ``vtpass_codes``.

A purchase sent again on a later Lagos day cannot reuse its request_id (VTpass answers 085 "DATE NOT
TODAY'S DATE", vtpass.com/documentation/response-codes), so it may be known by several request_ids
(``resend_request_id``); ``query_status`` asks about every one of them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webapp.providers.amounts import amount_problem, kobo_to_naira, naira_to_kobo
from webapp.providers.base import (
    CallLogger,
    CatalogueItem,
    CatalogueItemLike,
    CustomerInfo,
    ErrorClass,
    PaymentErrorType,
    ProviderError,
    PurchaseKeys,
    PurchaseResult,
    UtilityServiceInterface,
)
from webapp.providers.http import ProviderHttp, Reply, first
from webapp.providers.tokens import key_change_tokens, token_and_units
from webapp.providers.vtpass_codes import (
    ERRORS,
    FAILED,
    LIKELY_DUPLICATE_WAIT_SECONDS,
    NOT_FOUND,
    PENDING,
    PROCESSED,
    TRANSACTION_STATUS,
    VERIFIED,
    is_valid_request_id,
    make_request_id,
    reference_for,
    request_id_day,
    resend_request_id,
)

__all__ = ["VTpassUtilityService", "make_request_id", "reference_for", "is_valid_request_id", "request_id_day",
           "resend_request_id"]

# VTpass service identifiers (GET services?identifier=...) -> our utility type.
IDENTIFIERS = {"electricity-bill": "electricity", "tv-subscription": "cable_tv", "data": "internet",
               "water-bill": "water"}
# Used when the services listing is unavailable: serviceID -> utility type.
DEFAULT_SERVICES: dict[str, str] = {
    **{f"{disco}-electric": "electricity" for disco in (
        "ikeja", "eko", "abuja", "kano", "portharcourt", "jos", "kaduna", "enugu", "ibadan", "benin",
        "aba", "yola")},
    "dstv": "cable_tv", "gotv": "cable_tv", "startimes": "cable_tv", "showmax": "cable_tv",
    "smile-direct": "internet", "spectranet": "internet",
}
CABLE_WITH_SUBSCRIPTION_TYPE = {"dstv", "gotv", "startimes"}
METER_TYPES = {"prepaid", "postpaid"}
LABELS = {"electricity": "Meter Number", "cable_tv": "Smart Card Number", "internet": "Account Number",
          "water": "Customer Number"}
# VTpass requires a phone number on every purchase; used when the resident has none on file.
DEFAULT_PHONE = "08011111111"


class VTpassUtilityService(UtilityServiceInterface):
    """Pays bills through VTpass. GETs carry api-key + public-key, POSTs api-key + secret-key."""

    api_provider = "vtpass"

    def __init__(self, base_url: str, api_key: str, public_key: str, secret_key: str, *,
                 connect_timeout: float, read_timeout: float, call_logger: CallLogger | None = None,
                 services: Mapping[str, str] | None = None, default_phone: str = DEFAULT_PHONE) -> None:
        self.http = ProviderHttp("vtpass", base_url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                 secrets=(api_key, public_key, secret_key), call_logger=call_logger)
        self._get_headers = {"api-key": api_key, "public-key": public_key}
        self._post_headers = {"api-key": api_key, "secret-key": secret_key}
        self.services = dict(services) if services is not None else None
        self.default_phone = default_phone

    # -- catalogue ---------------------------------------------------------------------------
    def get_utility_providers(self) -> list[CatalogueItem]:
        """Services per identifier (``services?identifier=``), then each service's plans
        (``service-variations``). Mobile data services are left out: they are not estate utilities."""
        items: list[CatalogueItem] = []
        for service_id, (utility_type, service) in self._services().items():
            reply = self.http.call("catalogue", "GET", "service-variations",
                                   params={"serviceID": service_id}, headers=self._get_headers)
            content = reply.body.get("content")
            if _code(reply.body) not in VERIFIED or not isinstance(content, Mapping):
                continue  # this account does not offer the service
            items.extend(self._catalogue_items(service_id, utility_type, service, content))
        return items

    def _services(self) -> dict[str, tuple[str, Mapping]]:
        if self.services is not None:
            return {service_id: (kind, {}) for service_id, kind in self.services.items()}
        found: dict[str, tuple[str, Mapping]] = {}
        for identifier, utility_type in IDENTIFIERS.items():
            reply = self.http.call("catalogue", "GET", "services", params={"identifier": identifier},
                                   headers=self._get_headers)
            content = reply.body.get("content")
            if _code(reply.body) not in VERIFIED or not isinstance(content, list):
                if reply.status == 404 and not found:
                    return {service_id: (kind, {}) for service_id, kind in DEFAULT_SERVICES.items()}
                continue
            for service in content:
                service_id = service.get("serviceID") if isinstance(service, Mapping) else None
                if service_id and not (identifier == "data" and str(service_id).endswith("-data")):
                    found.setdefault(str(service_id), (utility_type, service))
        return found

    def _catalogue_items(self, service_id: str, utility_type: str, service: Mapping,
                         content: Mapping) -> list[CatalogueItem]:
        variations = content.get("variations") or content.get("varations") or []  # VTpass spells it both ways
        biller = str(content.get("ServiceName") or service.get("name") or service_id)
        fee = _fee_kobo(content.get("convinience_fee") or service.get("convinience_fee"))
        items = []
        for variation in variations if isinstance(variations, Sequence) else []:
            if not isinstance(variation, Mapping) or not variation.get("variation_code"):
                continue
            code = str(variation["variation_code"])
            fixed = str(variation.get("fixedPrice", "")).lower() == "yes"
            meter_type = code if code in METER_TYPES else None
            items.append(CatalogueItem(
                api_provider=self.api_provider, utility_type=utility_type, provider_code=service_id,
                item_code=code, name=str(variation.get("name") or code), biller_name=biller,
                label_name=LABELS.get(utility_type, "Customer Number"),
                fixed_amount_kobo=(naira_to_kobo(variation.get("variation_amount")) or 0) if fixed else 0,
                fee_kobo=fee,
                min_amount_kobo=_positive_kobo(first(variation, "minimum_amount") or
                                               first(service, "minimum_amount", "minimium_amount")),
                max_amount_kobo=_positive_kobo(first(variation, "maximum_amount") or
                                               first(service, "maximum_amount")),
                supports_validation=utility_type in ("electricity", "cable_tv", "water") or meter_type is not None,
                meter_type=meter_type,
            ))
        return items

    # -- validation --------------------------------------------------------------------------
    def validate_customer(self, item: CatalogueItemLike, customer_id: str) -> CustomerInfo:
        body: dict[str, Any] = {"billersCode": customer_id, "serviceID": item.provider_code}
        meter_type = _meter_type(item)
        if meter_type:
            body["type"] = meter_type
        reply = self.http.call("validate", "POST", "merchant-verify", body=body, headers=self._post_headers)
        code = _code(reply.body)
        content = reply.body.get("content")
        if code not in VERIFIED:
            raise self._code_error("validate", reply, code, moves_money=False)
        if not isinstance(content, Mapping):
            raise self._malformed("validate", reply, moves_money=False)
        if content.get("error") or content.get("WrongBillersCode") is True:
            raise self.http.error(
                PaymentErrorType.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT,
                "The provider could not find this customer number. Please check it and try again.",
                operation="validate", http_status=reply.status, raw=reply.body,
                detail=str(content.get("error") or "wrong billers code"))
        name = first(content, "Customer_Name", "customer_name", "Name", "name")
        if not name:
            raise self._malformed("validate", reply, moves_money=False)
        return CustomerInfo(
            customer_id=customer_id, name=str(name).strip(),
            address=_str_or_none(first(content, "Address", "address", "Customer_Address")),
            meter_type=_meter_type_from(content) or meter_type,
            min_amount_kobo=_positive_kobo(first(content, "Minimum_Amount", "Min_Purchase_Amount",
                                                  "minimum_amount", "Minimum_Purchase_Amount")),
            max_amount_kobo=_positive_kobo(first(content, "Maximum_Amount", "Max_Purchase_Amount",
                                                  "maximum_amount", "Maximum_Purchase_Amount")),
            # What a postpaid account owes: ``content.Customer_Arrears`` in the merchant-verify answer
            # of VTpass's electricity APIs (vtpass.com/documentation/ikedc-ikeja-electricity-distribution-
            # company-payment-api/, "Verify Meter Number"), a naira string.
            outstanding_kobo=naira_to_kobo(content.get("Customer_Arrears")),
            raw=reply.redacted,
        )

    # -- purchase and status -----------------------------------------------------------------
    def purchase_utility(self, item: CatalogueItemLike, customer_id: str, amount_kobo: int, reference: str,
                         phone: str | None = None) -> PurchaseResult:
        if not is_valid_request_id(reference):
            raise self.http.error(
                PaymentErrorType.VALIDATION_ERROR, ErrorClass.PERMANENT,
                "This payment could not be sent to the provider.", operation="purchase",
                detail="reference is not a VTpass request_id (YYYYMMDDHHII + letters/digits); use reference_for()")
        problem = amount_problem(item, amount_kobo)
        if problem:
            raise self.http.error(PaymentErrorType.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT,
                                  f"This payment cannot be made: {problem}.", operation="purchase", detail=problem)
        body: dict[str, Any] = {
            "request_id": reference, "serviceID": item.provider_code, "billersCode": customer_id,
            "variation_code": item.item_code, "amount": kobo_to_naira(amount_kobo),
            "phone": phone or self.default_phone,
        }
        if item.provider_code in CABLE_WITH_SUBSCRIPTION_TYPE:
            body["subscription_type"] = "change"
        reply = self.http.call("purchase", "POST", "pay", body=body, headers=self._post_headers, moves_money=True)
        code = _code(reply.body)
        if code in PROCESSED or code in PENDING or code in FAILED:
            return self._result(reference, reply, code, "purchase")
        raise self._code_error("purchase", reply, code, moves_money=True)

    def query_status(self, keys: PurchaseKeys | str, provider_reference: str | None = None) -> PurchaseResult:
        """Requery every request_id the purchase went out under (``POST requery``), newest first.

        A success on any of them settles the purchase; else any pending one keeps it pending; else a
        failure is final. "not_found" only when VTpass answers 015 for every one of them ("This
        RequestID was not used on our platform", vtpass.com/documentation/response-codes).
        """
        keys = PurchaseKeys.of(keys)
        answers = []
        for request_id in reversed(keys.all_request_ids):
            result = self._requery_once(keys.reference, request_id)
            if result.status == "succeeded":
                return result
            answers.append(result)
        for wanted in ("pending", "failed"):
            for result in answers:
                if result.status == wanted:
                    return result
        return answers[0]

    def _requery_once(self, reference: str, request_id: str) -> PurchaseResult:
        reply = self.http.call("status", "POST", "requery", body={"request_id": request_id},
                               headers=self._post_headers)
        code = _code(reply.body)
        if code == NOT_FOUND:
            return PurchaseResult(reference=reference, status="not_found", message=_description(reply.body),
                                  raw=reply.redacted, request_id=request_id)
        if code in PROCESSED or code in PENDING or code in FAILED or code == "016":
            return self._result(reference, reply, code, "status", request_id=request_id)
        raise self._code_error("status", reply, code, moves_money=False)

    def _result(self, reference: str, reply: Reply, code: str, operation: str,
                request_id: str | None = None) -> PurchaseResult:
        body = reply.body
        request_id = request_id or reference
        content = body.get("content") if isinstance(body.get("content"), Mapping) else {}
        transaction = content.get("transactions") if isinstance(content.get("transactions"), Mapping) else {}
        echoed = body.get("requestId") or body.get("request_id")
        if echoed and str(echoed) != request_id:
            raise self._malformed(operation, reply, moves_money=operation == "purchase",
                                  detail=f"answer is for request_id {echoed}")
        if code in PENDING:
            status = "pending"
        elif code in FAILED or code == "016":
            status = "failed"
        else:  # unknown or missing transaction status: pending, requery later (VTpass's own rule)
            status = TRANSACTION_STATUS.get(str(transaction.get("status", "")).strip().lower(), "pending")
        token, units = token_and_units(body, content, transaction)
        amount = naira_to_kobo(first(transaction, "amount", "unit_price")) or naira_to_kobo(body.get("amount"))
        provider_ref = transaction.get("transactionId") or body.get("transactionId")
        return PurchaseResult(
            reference=reference, status=status, provider_reference=str(provider_ref) if provider_ref else None,
            amount_kobo=amount, token=token, units=units,
            key_change_tokens=key_change_tokens(body, content, transaction),
            message=_description(body), raw=reply.redacted,
            refs={"transaction_id": str(provider_ref)} if provider_ref else {}, request_id=request_id,
        )

    # -- errors ------------------------------------------------------------------------------
    def _code_error(self, operation: str, reply: Reply, code: str, *, moves_money: bool) -> ProviderError:
        known = ERRORS.get(code)
        detail = f"code {code or '(none)'}: {_description(reply.body)}"
        if known is None:
            # VTpass: anything unexpected after a purchase is pending until a requery says otherwise.
            return self._malformed(operation, reply, moves_money=moves_money, detail=detail,
                                   error_type=PaymentErrorType.UNKNOWN_ERROR)
        error_type, error_class, message = known
        reason = _failure_reason(reply.body) if code == "016" else ""
        if reason:  # e.g. "Meter blocked: ...": the resident can act on the provider's own words
            message = f"{message.rstrip('.')}: {reason}"
        retry_after = LIKELY_DUPLICATE_WAIT_SECONDS if code == "019" else None
        if error_class is ErrorClass.OUTCOME_UNKNOWN and not moves_money:
            error_class = ErrorClass.TRANSIENT
        return self.http.error(error_type, error_class, message, operation=operation, http_status=reply.status,
                               raw=reply.body, detail=detail, retry_after=retry_after)

    def _malformed(self, operation: str, reply: Reply, *, moves_money: bool, detail: str = "",
                   error_type: PaymentErrorType = PaymentErrorType.MALFORMED_RESPONSE) -> ProviderError:
        if moves_money:
            return self.http.error(error_type, ErrorClass.OUTCOME_UNKNOWN,
                                   "VTpass did not confirm this payment yet. We are checking its status; "
                                   "you will not be charged twice.", operation=operation, http_status=reply.status,
                                   raw=reply.body, detail=detail or "unexpected answer")
        return self.http.error(error_type, ErrorClass.TRANSIENT,
                               "VTpass sent an answer we could not read. Please try again shortly.",
                               operation=operation, http_status=reply.status, raw=reply.body,
                               detail=detail or "unexpected answer")


def _code(body: Mapping) -> str:
    code = body.get("code")
    if code is None and str(body.get("response_description", "")).isdigit():
        code = body["response_description"]  # service-variations puts the code there
    return str(code).strip().zfill(3) if code is not None else ""


def _failure_reason(body: Mapping) -> str:
    content = body.get("content")
    reason = content.get("error") if isinstance(content, Mapping) else None
    return reason.strip() if isinstance(reason, str) else ""


def _description(body: Mapping) -> str:
    return str(body.get("response_description") or body.get("message") or "")


def _str_or_none(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _positive_kobo(value: Any) -> int | None:
    kobo = naira_to_kobo(value)
    return kobo if kobo else None


def _fee_kobo(value: Any) -> int:
    """VTpass writes the convenience fee as "N100.00" (an amount) or "0 %" (a percentage: not a fixed fee)."""
    text = str(value or "").strip()
    if not text or "%" in text:
        return 0
    return naira_to_kobo(text.lstrip("Nn₦")) or 0


def _meter_type(item: CatalogueItemLike) -> str | None:
    meter_type = (getattr(item, "meter_type", None) or "").lower()
    if meter_type in METER_TYPES:
        return meter_type
    return item.item_code if item.item_code in METER_TYPES else None


def _meter_type_from(content: Mapping) -> str | None:
    value = str(first(content, "Meter_Type", "meter_type", "Customer_Account_Type") or "").lower()
    for kind in METER_TYPES:
        if kind in value:
            return kind
    return None
