"""Pick a provider client by key and build it from the app config (one setting name per fact).

The catalogue's ``api_provider`` ("flutterwave" | "vtpass") selects the bills client, a funding
intent's gateway ("paystack" | "flutterwave") the funding client, a payout's gateway the
transfers client. Pass the Flask config or any
mapping; nothing here imports Flask.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from webapp.providers.base import CallLogger, ProviderConfigError, UtilityServiceInterface
from webapp.providers.flutterwave import FlutterwaveFundingClient, FlutterwaveUtilityService
from webapp.providers.flutterwave_transfers import FlutterwaveTransferClient
from webapp.providers.paystack import PaystackFundingClient
from webapp.providers.paystack_transfers import PaystackTransferClient
from webapp.providers.transfers import TransferClient
from webapp.providers.vtpass import VTpassUtilityService

FundingClient = PaystackFundingClient | FlutterwaveFundingClient


def _setting(config: Mapping[str, Any], name: str, *, required: bool = True) -> Any:
    value = config.get(name)
    if required and (value is None or value == ""):
        raise ProviderConfigError(f"{name} is not set; the provider client needs it")
    return value


def _timeouts(config: Mapping[str, Any]) -> dict[str, float]:
    try:
        return {"connect_timeout": float(_setting(config, "PROVIDER_CONNECT_TIMEOUT")),
                "read_timeout": float(_setting(config, "PROVIDER_READ_TIMEOUT"))}
    except (TypeError, ValueError) as exc:
        raise ProviderConfigError("PROVIDER_CONNECT_TIMEOUT and PROVIDER_READ_TIMEOUT must be numbers") from exc


# Where Flutterwave sends a bill's status event (webapp/webhooks: the bills route).
FLUTTERWAVE_BILLS_WEBHOOK_PATH = "/webhooks/flutterwave/bills"


# Where Flutterwave sends a transfer's (payout's) final status (webapp/webhooks: the transfers route).
# Paystack has one webhook URL per integration, so its transfer events arrive at the usual one.
FLUTTERWAVE_TRANSFERS_WEBHOOK_PATH = "/webhooks/flutterwave/transfers"


def _public_base(config: Mapping[str, Any]) -> str:
    """``PUBLIC_BASE_URL`` in production (required there); on a development machine the local web
    server, which is where the sandbox sends its events."""
    return str(config.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{config.get('PORT') or 5000}").rstrip("/")


def bills_callback_url(config: Mapping[str, Any]) -> str:
    """Our bill-status webhook URL, sent as ``callback_url`` on every Flutterwave bill payment."""
    return _public_base(config) + FLUTTERWAVE_BILLS_WEBHOOK_PATH


def transfers_callback_url(config: Mapping[str, Any]) -> str:
    """Our transfer-status webhook URL, sent as ``callback_url`` on every Flutterwave transfer."""
    return _public_base(config) + FLUTTERWAVE_TRANSFERS_WEBHOOK_PATH


def _flutterwave_bills(config: Mapping[str, Any], call_logger: CallLogger | None) -> UtilityServiceInterface:
    try:
        lag = float(config.get("FLUTTERWAVE_RECORD_LAG_SECONDS", 600.0))
    except (TypeError, ValueError) as exc:
        raise ProviderConfigError("FLUTTERWAVE_RECORD_LAG_SECONDS must be a number") from exc
    return FlutterwaveUtilityService(_setting(config, "FLUTTERWAVE_BASE_URL"),
                                     _setting(config, "FLUTTERWAVE_SECRET_KEY"),
                                     call_logger=call_logger, callback_url=bills_callback_url(config),
                                     record_lag_seconds=lag, **_timeouts(config))


def _vtpass_bills(config: Mapping[str, Any], call_logger: CallLogger | None) -> UtilityServiceInterface:
    return VTpassUtilityService(_setting(config, "VTPASS_BASE_URL"), _setting(config, "VTPASS_API_KEY"),
                                _setting(config, "VTPASS_PUBLIC_KEY"), _setting(config, "VTPASS_SECRET_KEY"),
                                call_logger=call_logger, **_timeouts(config))


Factory = Callable[[Mapping[str, Any], CallLogger | None], Any]


def _paystack(client: type) -> Factory:
    """A Paystack client of ``client``'s kind (funding or transfers) from the Paystack settings."""
    def build(config: Mapping[str, Any], call_logger: CallLogger | None):
        return client(_setting(config, "PAYSTACK_BASE_URL"), _setting(config, "PAYSTACK_SECRET_KEY"),
                      call_logger=call_logger, **_timeouts(config))
    return build


def _flutterwave(client: type, callback_url: Callable[[Mapping[str, Any]], str] | None = None) -> Factory:
    """A Flutterwave client of ``client``'s kind from the Flutterwave settings. Without
    FLUTTERWAVE_SECRET_HASH it still works, but every webhook it is asked to check is refused."""
    def build(config: Mapping[str, Any], call_logger: CallLogger | None):
        extra = {"callback_url": callback_url(config)} if callback_url else {}
        return client(_setting(config, "FLUTTERWAVE_BASE_URL"), _setting(config, "FLUTTERWAVE_SECRET_KEY"),
                      _setting(config, "FLUTTERWAVE_SECRET_HASH", required=False) or "",
                      call_logger=call_logger, **extra, **_timeouts(config))
    return build


UTILITY_SERVICES: dict[str, Callable[[Mapping[str, Any], CallLogger | None], UtilityServiceInterface]] = {
    "flutterwave": _flutterwave_bills,
    "vtpass": _vtpass_bills,
}
FUNDING_CLIENTS: dict[str, Callable[[Mapping[str, Any], CallLogger | None], FundingClient]] = {
    "paystack": _paystack(PaystackFundingClient),
    "flutterwave": _flutterwave(FlutterwaveFundingClient),
}

TRANSFER_CLIENTS: dict[str, Callable[[Mapping[str, Any], CallLogger | None], TransferClient]] = {
    "paystack": _paystack(PaystackTransferClient),
    "flutterwave": _flutterwave(FlutterwaveTransferClient, transfers_callback_url),
}


def _pick(table: Mapping[str, Factory], kind: str, key: str) -> Factory:
    try:
        return table[key]
    except KeyError:
        raise ProviderConfigError(f"unknown {kind} {key!r}; known: {', '.join(sorted(table))}") from None


def utility_service(api_provider: str, config: Mapping[str, Any], *,
                    call_logger: CallLogger | None = None) -> UtilityServiceInterface:
    """The bills client for a catalogue entry's ``api_provider``."""
    return _pick(UTILITY_SERVICES, "bills provider", api_provider)(config, call_logger)


def funding_client(gateway: str, config: Mapping[str, Any], *, call_logger: CallLogger | None = None) -> FundingClient:
    """The funding client for a payment gateway."""
    return _pick(FUNDING_CLIENTS, "funding gateway", gateway)(config, call_logger)


def transfer_client(gateway: str, config: Mapping[str, Any], *,
                    call_logger: CallLogger | None = None) -> TransferClient:
    """The transfers (payouts) client for a payment gateway."""
    return _pick(TRANSFER_CLIENTS, "transfer gateway", gateway)(config, call_logger)
