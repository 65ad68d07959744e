"""The payment history's filter form (query string: account, type, status, from, to)."""
from __future__ import annotations

from webapp.forms import ChoiceFilter, DateRangeForm
from webapp.models import PaymentStatus
from webapp.models.catalogue import UTILITY_TYPES
from webapp.queries.history import HistoryFilters
from webapp.request_numbers import coerce_id


class HistoryFilterForm(DateRangeForm):
    """``account.choices`` are the resident's own accounts (removed ones included), set by the view:
    any other id gets the same message whether or not it exists, so nothing leaks."""

    account = ChoiceFilter("Account", coerce=coerce_id,
                           message="Choose one of your own accounts. The account filter was ignored.")
    utility_type = ChoiceFilter("Utility type", name="type", choices=list(UTILITY_TYPES),
                                message="Choose a utility type from the list. The type filter was ignored.")
    status = ChoiceFilter("Status", choices=[s.value for s in PaymentStatus],
                          message="Choose a status from the list. The status filter was ignored.")

    def filters(self) -> HistoryFilters:
        """The filters to apply, once validated (a field that could not be used is off)."""
        return HistoryFilters(account_id=self.account.data, utility_type=self.utility_type.data,
                              status=self.status.data, date_from=self.date_from.data, date_to=self.date_to.data)
