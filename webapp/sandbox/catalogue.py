"""The sandbox's bill catalogue: one list of products, each known to both bill providers.

Every product carries its Flutterwave identity (biller_code, item_code, category) and its VTpass
identity (serviceID, variation_code, service identifier). Codes are fixed literals so that syncing
the catalogue twice changes nothing. Amounts are kobo; the wire modules convert to naira.
"""
from __future__ import annotations

from dataclasses import dataclass

ELECTRICITY, WATER, INTERNET, CABLE_TV = "electricity", "water", "internet", "cable_tv"

# Flutterwave's newer three-step catalogue groups billers under these category codes.
FLW_CATEGORIES = {
    "UTILITYBILLS": {"id": 4, "name": "Utility Bills", "description": "Electricity and water"},
    "CABLEBILLS": {"id": 5, "name": "Cable Bills", "description": "Cable TV subscriptions"},
    "INTSERVICE": {"id": 6, "name": "Internet Services", "description": "Internet subscriptions"},
}
FLW_CATEGORY_BY_TYPE = {ELECTRICITY: "UTILITYBILLS", WATER: "UTILITYBILLS", CABLE_TV: "CABLEBILLS",
                        INTERNET: "INTSERVICE"}

# VTpass service identifiers (GET services?identifier=...). "water-bill" is a sandbox addition.
VTPASS_IDENTIFIERS = {
    "electricity-bill": ("Electricity Bill", ELECTRICITY),
    "tv-subscription": ("TV Subscription", CABLE_TV),
    "data": ("Data Services (internet)", INTERNET),
    "water-bill": ("Water Bill", WATER),
}
VTPASS_IDENTIFIER_BY_TYPE = {utility: ident for ident, (_name, utility) in VTPASS_IDENTIFIERS.items()}


@dataclass(frozen=True)
class Product:
    utility_type: str
    meter_type: str | None  # "prepaid" | "postpaid" for electricity, else None
    name: str
    biller_name: str
    label_name: str
    fixed_kobo: int  # 0 = the customer chooses the amount
    fee_kobo: int
    min_kobo: int
    max_kobo: int
    flw_id: int
    flw_biller_code: str
    flw_item_code: str
    vt_service_id: str
    vt_service_name: str
    vt_variation_code: str

    @property
    def is_prepaid_electricity(self) -> bool:
        return self.utility_type == ELECTRICITY and self.meter_type == "prepaid"

    def amount_problem(self, amount_kobo: int) -> str | None:
        """``"below"``/``"above"`` when the amount is outside the product's bounds, else None."""
        if amount_kobo < self.min_kobo:
            return "below"
        if amount_kobo > self.max_kobo:
            return "above"
        return None


def _flexible(utility, meter_type, name, biller, label, fee, lo, hi, flw, vt) -> Product:
    flw_id, biller_code, item_code = flw
    service_id, service_name, variation = vt
    return Product(utility, meter_type, name, biller, label, 0, fee, lo, hi, flw_id, biller_code, item_code,
                   service_id, service_name, variation)


def _plan(utility, name, biller, label, price, fee, flw, vt) -> Product:
    flw_id, biller_code, item_code = flw
    service_id, service_name, variation = vt
    return Product(utility, None, name, biller, label, price, fee, price, price, flw_id, biller_code, item_code,
                   service_id, service_name, variation)


_IKEJA = ("ikeja-electric", "Ikeja Electric Payment - IKEDC")
_EKO = ("eko-electric", "Eko Electric Payment - EKEDC")
_WATER = ("lagos-water", "Lagos Water Corporation")
_DSTV = ("dstv", "DSTV Subscription")
_GOTV = ("gotv", "Gotv Payment")
_SPECTRANET = ("spectranet", "Spectranet Internet Data")
_SMILE = ("smile-direct", "Smile Payment")

PRODUCTS: tuple[Product, ...] = (
    _flexible(ELECTRICITY, "prepaid", "IKEDC Prepaid", "Ikeja Electric", "Meter Number", 100_00,
              500_00, 500_000_00, (9101, "BIL112", "UB157"), (*_IKEJA, "prepaid")),
    _flexible(ELECTRICITY, "postpaid", "IKEDC Postpaid", "Ikeja Electric", "Meter Number", 100_00,
              500_00, 1_000_000_00, (9102, "BIL112", "UB158"), (*_IKEJA, "postpaid")),
    _flexible(ELECTRICITY, "prepaid", "EKEDC Prepaid", "Eko Electric", "Meter Number", 100_00,
              500_00, 500_000_00, (9103, "BIL113", "UB159"), (*_EKO, "prepaid")),
    _flexible(ELECTRICITY, "postpaid", "EKEDC Postpaid", "Eko Electric", "Meter Number", 100_00,
              500_00, 1_000_000_00, (9104, "BIL113", "UB160"), (*_EKO, "postpaid")),
    _flexible(WATER, None, "Lagos Water Bill", "Lagos Water Corporation", "Account Number", 50_00,
              1_000_00, 500_000_00, (9201, "BIL150", "WB101"), (*_WATER, "lwc-bill")),
    _plan(INTERNET, "Spectranet 7GB Monthly", "Spectranet", "Account Number", 7_000_00, 0,
          (9301, "BIL136", "IS201"), (*_SPECTRANET, "spectranet-7gb")),
    _plan(INTERNET, "Spectranet 25GB Monthly", "Spectranet", "Account Number", 15_000_00, 0,
          (9302, "BIL136", "IS202"), (*_SPECTRANET, "spectranet-25gb")),
    _plan(INTERNET, "Smile 10GB Monthly", "Smile", "Account Number", 6_500_00, 0,
          (9303, "BIL137", "IS210"), (*_SMILE, "smile-10gb")),
    _flexible(INTERNET, None, "Smile Recharge", "Smile", "Account Number", 0,
              500_00, 100_000_00, (9304, "BIL137", "IS211"), (*_SMILE, "smile-recharge")),
    _plan(CABLE_TV, "DStv Padi", "DSTV", "Smart Card Number", 4_400_00, 100_00,
          (9401, "BIL121", "CB141"), (*_DSTV, "dstv-padi")),
    _plan(CABLE_TV, "DStv Yanga", "DSTV", "Smart Card Number", 6_000_00, 100_00,
          (9402, "BIL121", "CB142"), (*_DSTV, "dstv-yanga")),
    _plan(CABLE_TV, "DStv Confam", "DSTV", "Smart Card Number", 11_000_00, 100_00,
          (9403, "BIL121", "CB143"), (*_DSTV, "dstv-confam")),
    _plan(CABLE_TV, "DStv Compact", "DSTV", "Smart Card Number", 19_000_00, 100_00,
          (9404, "BIL121", "CB144"), (*_DSTV, "dstv-compact")),
    _plan(CABLE_TV, "GOtv Smallie", "GOtv", "Smart Card Number", 1_900_00, 100_00,
          (9411, "BIL122", "CB151"), (*_GOTV, "gotv-smallie")),
    _plan(CABLE_TV, "GOtv Jinja", "GOtv", "Smart Card Number", 3_900_00, 100_00,
          (9412, "BIL122", "CB152"), (*_GOTV, "gotv-jinja")),
    _plan(CABLE_TV, "GOtv Jolli", "GOtv", "Smart Card Number", 5_800_00, 100_00,
          (9413, "BIL122", "CB153"), (*_GOTV, "gotv-jolli")),
    _plan(CABLE_TV, "GOtv Max", "GOtv", "Smart Card Number", 8_500_00, 100_00,
          (9414, "BIL122", "CB154"), (*_GOTV, "gotv-max")),
)


def by_flw_item(item_code: str) -> Product | None:
    return next((p for p in PRODUCTS if p.flw_item_code == item_code), None)


def flw_billers() -> dict[str, list[Product]]:
    """Products grouped by Flutterwave biller_code, in catalogue order."""
    billers: dict[str, list[Product]] = {}
    for product in PRODUCTS:
        billers.setdefault(product.flw_biller_code, []).append(product)
    return billers


def vt_services() -> dict[str, list[Product]]:
    """Products grouped by VTpass serviceID, in catalogue order."""
    services: dict[str, list[Product]] = {}
    for product in PRODUCTS:
        services.setdefault(product.vt_service_id, []).append(product)
    return services


def by_vt_variation(service_id: str, variation_code: str | None) -> Product | None:
    variations = vt_services().get(service_id, [])
    if not variation_code and len(variations) == 1:
        return variations[0]
    return next((p for p in variations if p.vt_variation_code == variation_code), None)
