"""Daily reconciliation of our bill purchases with each provider's record (``runs``; Flutterwave's
listing in ``flutterwave_listing``).
"""
from webapp.services.reconciliation.runs import (  # noqa: F401
    AMOUNT,
    LOST,
    MISSING,
    UNKNOWN_TO_US,
    UNSETTLED,
    ReconciliationError,
    previous_lagos_day,
    reconcile,
    reconcile_all,
    summary,
    unsettled,
)
