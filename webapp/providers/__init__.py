"""Provider clients: plain HTTP + dataclasses, no Flask, no models.

Get a client through ``registry.utility_service`` / ``registry.funding_client``; catch
``ProviderError`` and act on its ``error_class`` (see ``base``).
"""
from webapp.providers.base import (
    CatalogueItem,
    CheckoutSession,
    CustomerInfo,
    ErrorClass,
    FundingVerification,
    PaymentErrorType,
    ProviderCall,
    ProviderConfigError,
    ProviderError,
    PurchaseKeys,
    PurchaseResult,
    SavedCard,
    UtilityServiceInterface,
)
from webapp.providers.registry import funding_client, utility_service

__all__ = [
    "CatalogueItem", "CheckoutSession", "CustomerInfo", "ErrorClass", "FundingVerification", "PaymentErrorType",
    "ProviderCall", "ProviderConfigError", "ProviderError", "PurchaseKeys", "PurchaseResult", "SavedCard",
    "UtilityServiceInterface", "funding_client", "utility_service",
]
