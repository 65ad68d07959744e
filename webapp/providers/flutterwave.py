"""Flutterwave v3 clients: Bills (``FlutterwaveUtilityService``) and hosted-checkout funding
(``FlutterwaveFundingClient``, in ``flutterwave_funding``).

Flutterwave wraps every answer in ``{"status": "success"|"error", "message", "data"}`` and reports
refusals as HTTP 4xx with an error envelope. It speaks naira, so kobo is converted at the edge.
A purchase that times out comes back as HTTP 503 after ~28 s and may still have succeeded
(developer.flutterwave.com/docs/error-timeouts: "query the status of the transaction ... before
retrying"), so any 5xx, timeout or unreadable answer to a purchase is ``outcome_unknown``.

What the published material says, and how this client reads it:
- Pay: ``POST /billers/{biller_code}/items/{item_code}/payment`` with country, customer_id, amount,
  reference (official PHP-v3 SDK, src/Service/Bill.php) and ``callback_url`` for the bill-status
  webhook. ``amount`` is typed integer in Flutterwave's OpenAPI, so only whole naira are sent: a
  fractional amount is refused before any request. The answer carries ``tx_ref``, ``flw_ref`` and
  ``recharge_token`` (often null: the token may come later) and no ``status``.
- Status: ``GET /bills/{tx_ref}?verbose=1``; the path is "the tx_ref of the bill transaction"
  (developer.flutterwave.com/v3.0.0/reference/get-status-of-a-bill-payment; Java-v3's javadoc says
  the same). The SDKs' own samples disagree on which of tx_ref/flw_ref is "CF-FLYAPI-..." (Node-v3
  documentation/billPayments.md vs the webhook sample), so both are kept and both are tried. A 404
  for either is not "no record": we asked by a key that may be the wrong one.
- The documented status answer for a completed bill has no ``status`` and no ``code`` in ``data``
  (Node-v3 billPayments.md sample). A record in that shape is read as succeeded: Flutterwave has the
  bill and reports nothing wrong with it. An explicit ``status`` wins when present. That reading
  never buys twice (a record is never a reason to resend) and, if Flutterwave later failed the bill,
  the daily reconciliation (``services/reconciliation``) finds it and alerts.
- Lookup without any Flutterwave reference (the purchase timed out before an answer): the status
  path by our own reference (found: settled; 404: proves nothing), then
  ``GET /bills?from=&to=&page=`` (Node-v3 Bills.fetch_bills), matching our reference in each
  bill's ``customer_reference``. The published sample of that answer shows only a summary; a
  listing without per-bill rows can never say "no record" and leaves the payment unknown.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

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
from webapp.providers.flutterwave_common import (
    NOT_FOUND_WORDS,
    classify_refusal,
    data_of,
    envelope_ok,
    is_error_envelope,
    message_text,
    status_of,
)
from webapp.providers.flutterwave_funding import FlutterwaveFundingClient
from webapp.providers.http import ProviderHttp, Reply, first
from webapp.providers.tokens import key_change_tokens, token_and_units

__all__ = ["FlutterwaveUtilityService", "FlutterwaveFundingClient"]

# /bill-categories filter -> our utility type (checked in this order; an item keeps its first type).
FLAT_FILTERS = (("power", "electricity"), ("cables", "cable_tv"), ("internet", "internet"), ("water", "water"))
# Three-step form: top-bill-categories code -> utility type.
TOP_CATEGORIES = {"UTILITYBILLS": "electricity", "CABLEBILLS": "cable_tv", "INTSERVICE": "internet"}
BILL_STATUS = {
    "successful": "succeeded", "success": "succeeded", "completed": "succeeded", "delivered": "succeeded",
    "pending": "pending", "processing": "pending", "initiated": "pending", "new": "pending",
    "failed": "failed", "fail": "failed", "error": "failed", "reversed": "failed", "cancelled": "failed",
}
# Flutterwave's own references a bill answer may carry, by the kind we keep them under.
REF_FIELDS = ("tx_ref", "flw_ref")
LISTING_MAX_PAGES = 100
# A listing without our bill is only "no record" once Flutterwave's records cannot still be
# catching up with the purchase (no published figure; ten minutes by default).
DEFAULT_RECORD_LAG_SECONDS = 600.0


class FlutterwaveUtilityService(UtilityServiceInterface):
    """Pays bills from the merchant's Flutterwave balance."""

    api_provider = "flutterwave"

    def __init__(self, base_url: str, secret_key: str, *, connect_timeout: float, read_timeout: float,
                 call_logger: CallLogger | None = None, country: str = "NG", callback_url: str | None = None,
                 record_lag_seconds: float = DEFAULT_RECORD_LAG_SECONDS) -> None:
        self.http = ProviderHttp("flutterwave", base_url, connect_timeout=connect_timeout,
                                 read_timeout=read_timeout, secrets=(secret_key,), call_logger=call_logger)
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self.country = country
        self.callback_url = callback_url
        self.record_lag = timedelta(seconds=record_lag_seconds)

    # -- catalogue ---------------------------------------------------------------------------
    def get_utility_providers(self, form: str = "flat") -> list[CatalogueItem]:
        """The flat ``/bill-categories`` list per filter (``form="flat"``, falling back to the
        three-step form when that endpoint is gone) or the three-step form (``form="three_step"``)."""
        if form == "three_step":
            return self._three_step_catalogue()
        seen: dict[tuple[str, str], CatalogueItem] = {}
        for flag, utility_type in FLAT_FILTERS:
            reply = self._get("catalogue", "bill-categories", {flag: 1, "country": self.country})
            if reply.status == 404 and not seen:
                return self._three_step_catalogue()
            for raw in self._list_data(reply, "catalogue"):
                item = self._catalogue_item(raw, utility_type)
                if item is not None:
                    seen.setdefault((item.provider_code, item.item_code), item)
        return list(seen.values())

    def _three_step_catalogue(self) -> list[CatalogueItem]:
        seen: dict[tuple[str, str], CatalogueItem] = {}
        top = self._list_data(self._get("catalogue", "top-bill-categories", {"country": self.country}), "catalogue")
        for category in top:
            utility_type = TOP_CATEGORIES.get(str(category.get("code", "")).upper())
            if utility_type is None:
                continue
            path = f"bills/{_seg(category['code'])}/billers"
            billers = self._list_data(self._get("catalogue", path, {"country": self.country}), "catalogue")
            for biller in billers:
                code = biller.get("biller_code")
                if not code:
                    continue
                for raw in self._list_data(self._get("catalogue", f"billers/{_seg(code)}/items", None), "catalogue"):
                    kind = "water" if "water" in f"{biller.get('name', '')} {raw.get('name', '')}".lower() \
                        else utility_type
                    item = self._catalogue_item({"biller_name": biller.get("name"), **raw,
                                                 "biller_code": raw.get("biller_code") or code}, kind)
                    if item is not None:
                        seen.setdefault((item.provider_code, item.item_code), item)
        return list(seen.values())

    def _catalogue_item(self, raw: Mapping, utility_type: str) -> CatalogueItem | None:
        if not isinstance(raw, Mapping) or not raw.get("biller_code") or not raw.get("item_code"):
            return None
        if raw.get("is_airtime") is True:
            return None
        name = str(raw.get("name") or raw.get("short_name") or raw["item_code"])
        lowered = f"{name} {raw.get('short_name', '')}".lower()
        meter_type = "postpaid" if "postpaid" in lowered else "prepaid" if "prepaid" in lowered else None
        return CatalogueItem(
            api_provider=self.api_provider, utility_type=utility_type, provider_code=str(raw["biller_code"]),
            item_code=str(raw["item_code"]), name=name,
            biller_name=str(raw.get("biller_name") or raw.get("short_name") or name),
            label_name=str(raw.get("label_name") or "Customer Number"),
            fixed_amount_kobo=naira_to_kobo(raw.get("amount")) or 0, fee_kobo=naira_to_kobo(raw.get("fee")) or 0,
            min_amount_kobo=_bound(first(raw, "min_amount", "minimum")),
            max_amount_kobo=_bound(first(raw, "max_amount", "maximum")),
            supports_validation=raw.get("is_resolvable") is not False, meter_type=meter_type,
        )

    # -- validation --------------------------------------------------------------------------
    def validate_customer(self, item: CatalogueItemLike, customer_id: str) -> CustomerInfo:
        reply = self._get("validate", f"bill-items/{_seg(item.item_code)}/validate",
                          {"code": item.provider_code, "customer": customer_id})
        if not envelope_ok(reply.body):
            raise self._refusal("validate", reply, moves_money=False, default=PaymentErrorType.INVALID_CUSTOMER_ID)
        data = data_of(reply.body)
        if data is None:
            raise self._unclear("validate", reply, moves_money=False, detail="no data")
        response_code = str(data.get("response_code", "")).strip()
        if response_code and response_code != "00":
            raise self.http.error(
                PaymentErrorType.INVALID_CUSTOMER_ID, ErrorClass.PERMANENT,
                "The provider could not find this customer number. Please check it and try again.",
                operation="validate", http_status=reply.status, raw=reply.body,
                detail=f"response_code {response_code}: {data.get('response_message', '')}")
        if not response_code or not data.get("name"):
            raise self._unclear("validate", reply, moves_money=False, detail="missing response_code or name")
        return CustomerInfo(
            customer_id=customer_id, name=str(data["name"]).strip(),
            address=str(data["address"]).strip() or None if data.get("address") else None,
            meter_type=_meter_type(data.get("meter_type")) or getattr(item, "meter_type", None),
            min_amount_kobo=_bound(data.get("minimum")), max_amount_kobo=_bound(data.get("maximum")),
            # Flutterwave publishes no amount owed in this answer (developer.flutterwave.com/reference/
            # validate-bill-service; Flutterwave/Node-v3 documentation/billPayments.md "Validate bill
            # service": response_code, address, response_message, name, biller_code, customer,
            # product_code, email, fee, maximum, minimum). ``outstanding`` is read only where a biller
            # adds it, as our sandbox does; never a guessed field such as ``balance``.
            outstanding_kobo=naira_to_kobo(data.get("outstanding")),
            raw=reply.redacted,
        )

    # -- purchase and status -----------------------------------------------------------------
    def purchase_utility(self, item: CatalogueItemLike, customer_id: str, amount_kobo: int, reference: str,
                         phone: str | None = None) -> PurchaseResult:
        problem = amount_problem(item, amount_kobo)
        if problem is None and amount_kobo % 100:
            problem = "Flutterwave takes whole naira only"
        if problem:
            raise self.http.error(PaymentErrorType.AMOUNT_OUT_OF_RANGE, ErrorClass.PERMANENT,
                                  f"This payment cannot be made: {problem}.", operation="purchase", detail=problem)
        body: dict[str, Any] = {"country": self.country, "customer_id": customer_id,
                                "amount": kobo_to_naira(amount_kobo), "reference": reference}
        if self.callback_url:
            body["callback_url"] = self.callback_url
        path = f"billers/{_seg(item.provider_code)}/items/{_seg(item.item_code)}/payment"
        reply = self.http.call("purchase", "POST", path, headers=self._headers, body=body, moves_money=True)
        if not envelope_ok(reply.body):
            if reply.status < 400 and not is_error_envelope(reply.body):
                raise self._unclear("purchase", reply, moves_money=True, detail="no success/error envelope")
            raise self._refusal("purchase", reply, moves_money=True, default=PaymentErrorType.UTILITY_PROVIDER_ERROR)
        data = data_of(reply.body)
        if data is None:
            raise self._unclear("purchase", reply, moves_money=True, detail="success without data")
        status = _bill_status(data)
        if status == "succeeded" and any(w in message_text(reply.body).lower() for w in ("pending", "processing")):
            status = "pending"
        return self._result(reference, reply, data, status)

    def query_status(self, keys: PurchaseKeys | str, provider_reference: str | None = None) -> PurchaseResult:
        """The bill's status by Flutterwave's references (tx_ref, then flw_ref), else a lookup in
        the bill listing by our reference. "not_found" only from a complete listing, taken after
        the record lag, that has per-bill rows and none of them ours (see the module docstring)."""
        keys = PurchaseKeys.of(keys, provider_reference)
        misses: list[str] = []
        for kind in REF_FIELDS:
            path_reference = keys.refs.get(kind)
            if not path_reference:
                continue
            result = self._status_once(keys.reference, path_reference)
            if result is not None:
                return result
            misses.append(kind)
        result = self._lookup(keys)
        if misses and result.status == "not_found":
            # Flutterwave gave us a reference for this bill, so it has a record: never resend.
            return PurchaseResult(reference=keys.reference, status="unconfirmed", raw=result.raw,
                                  message=f"no bill found by {', '.join(misses)} or in the listing")
        return result

    def _status_once(self, reference: str, path_reference: str) -> PurchaseResult | None:
        """The status by one Flutterwave reference; None when Flutterwave knows nothing by it."""
        reply = self._get("status", f"bills/{_seg(path_reference)}", {"verbose": 1})
        if not envelope_ok(reply.body):
            text = message_text(reply.body).lower()
            if reply.status == 404 or any(word in text for word in NOT_FOUND_WORDS):
                return None
            raise self._refusal("status", reply, moves_money=False, default=PaymentErrorType.PROVIDER_ERROR)
        data = data_of(reply.body)
        if data is None:
            raise self._unclear("status", reply, moves_money=False, detail="success without data")
        ours = first(data, "customer_reference")
        if ours and str(ours) != reference:
            raise self._unclear("status", reply, moves_money=False, detail=f"answer is for another bill ({ours})")
        return self._result(reference, reply, data, _bill_status(data))

    def _lookup(self, keys: PurchaseKeys, now: datetime | None = None) -> PurchaseResult:
        """Find a bill we hold no Flutterwave reference for: the status path by our own reference
        (the reference page's example value looks like a merchant reference, so it may work; a
        404 proves nothing), then the bill listing."""
        by_ours = self._status_once(keys.reference, keys.reference)
        if by_ours is not None:
            return by_ours
        now = now or datetime.now(UTC)
        sent = keys.last_sent_at or now
        bills = self.list_bills((sent - timedelta(days=1)).date(), (now + timedelta(days=1)).date())
        if bills is None:
            return PurchaseResult(reference=keys.reference, status="unconfirmed",
                                  message="the bill listing has no per-bill rows to look in")
        for bill in bills:
            if bill.reference == keys.reference:
                tx_ref = bill.refs.get("tx_ref")
                if tx_ref:
                    found = self._status_once(keys.reference, tx_ref)
                    if found is not None:
                        return found
                return bill
        if keys.last_sent_at is None or now - keys.last_sent_at < self.record_lag:
            return PurchaseResult(reference=keys.reference, status="unconfirmed",
                                  message="not in the bill listing yet; Flutterwave's records may still lag",
                                  provable_at=keys.last_sent_at + self.record_lag if keys.last_sent_at else None)
        return PurchaseResult(reference=keys.reference, status="not_found",
                              message="no bill with this reference in Flutterwave's bill listing")

    def list_bills(self, start: date, end: date) -> list[PurchaseResult] | None:
        """Every bill Flutterwave lists for the days ``start``..``end``, one result per bill, with our
        reference (``customer_reference``) as ``reference``; None when the listing carries only its
        summary (the published sample's shape), so it cannot show that a bill is missing."""
        found: list[PurchaseResult] = []
        page = 1
        while page <= LISTING_MAX_PAGES:
            reply = self._get("listing", "bills", {"from": start.isoformat(), "to": end.isoformat(), "page": page})
            if not envelope_ok(reply.body):
                raise self._refusal("listing", reply, moves_money=False, default=PaymentErrorType.PROVIDER_ERROR)
            data = reply.body.get("data")
            rows = data if isinstance(data, list) else next(
                (data[k] for k in ("transactions", "bills", "items") if isinstance(data, Mapping)
                 and isinstance(data.get(k), list)), None)
            if rows is None:
                return None
            for row in rows:
                ours = first(row, "customer_reference", "reference") if isinstance(row, Mapping) else None
                if ours:
                    found.append(self._result(str(ours), None, row, _bill_status(row)))
            total_pages = _int(data.get("total_pages")) if isinstance(data, Mapping) else None
            if not rows or total_pages is None or page >= total_pages:
                return found
            page += 1
        raise self._unclear("listing", reply, moves_money=False, detail=f"more than {LISTING_MAX_PAGES} pages")

    def _result(self, reference: str, reply: Reply | None, data: Mapping, status: str) -> PurchaseResult:
        token, units = token_and_units(data)
        refs = {kind: str(data[kind]) for kind in REF_FIELDS if data.get(kind)}
        return PurchaseResult(
            reference=reference, status=status,  # type: ignore[arg-type]
            provider_reference=refs.get("tx_ref") or refs.get("flw_ref"),
            amount_kobo=naira_to_kobo(data.get("amount")), token=token, units=units,
            key_change_tokens=key_change_tokens(data),  # none documented (see providers/tokens.py)
            message=message_text(reply.body) if reply else str(data.get("message") or ""),
            raw=reply.redacted if reply else None, refs=refs,
        )

    # -- plumbing ----------------------------------------------------------------------------
    def _get(self, operation: str, path: str, params: Mapping[str, Any] | None) -> Reply:
        return self.http.call(operation, "GET", path, params=params, headers=self._headers)

    def _list_data(self, reply: Reply, operation: str) -> list[Mapping]:
        data = reply.body.get("data")
        if not envelope_ok(reply.body):
            raise self._refusal(operation, reply, moves_money=False, default=PaymentErrorType.PROVIDER_ERROR)
        if not isinstance(data, list):
            raise self._unclear(operation, reply, moves_money=False, detail="data is not a list")
        return [row for row in data if isinstance(row, Mapping)]

    def _refusal(self, operation: str, reply: Reply, *, moves_money: bool,
                 default: PaymentErrorType) -> ProviderError:
        error_type, error_class, message = classify_refusal(reply, default=default, moves_money=moves_money)
        return self.http.error(error_type, error_class, message, operation=operation, http_status=reply.status,
                               raw=reply.body, detail=message_text(reply.body) or f"HTTP {reply.status}")

    def _unclear(self, operation: str, reply: Reply, *, moves_money: bool, detail: str) -> ProviderError:
        if moves_money:
            return self.http.error(PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.OUTCOME_UNKNOWN,
                                   "Flutterwave did not confirm this payment yet. We are checking its status; "
                                   "you will not be charged twice.", operation=operation,
                                   http_status=reply.status, raw=reply.body, detail=detail)
        return self.http.error(PaymentErrorType.MALFORMED_RESPONSE, ErrorClass.TRANSIENT,
                               "Flutterwave sent an answer we could not read. Please try again shortly.",
                               operation=operation, http_status=reply.status, raw=reply.body, detail=detail)


def _bill_status(data: Mapping) -> str:
    """Our status for a bill record: its explicit ``status`` when it has one (an unknown word is
    pending), else succeeded, the documented shape of a completed bill (see the module docstring)."""
    raw = status_of(data)
    return BILL_STATUS.get(raw, "pending") if raw else "succeeded"


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _meter_type(value: Any) -> str | None:
    text = str(value or "").lower()
    return "postpaid" if "postpaid" in text else "prepaid" if "prepaid" in text else None


def _bound(value: Any) -> int | None:
    """Flutterwave uses 0 for "no bound"."""
    kobo = naira_to_kobo(value)
    return kobo if kobo else None


def _seg(value: Any) -> str:
    """One URL path segment: a reference or code can never add a path of its own."""
    return quote(str(value), safe="")
