"""``UtilityPaymentManager``: the seed's facade over the payment services, kept for callers that
think in terms of "the manager" (views, automations, admin tools)."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Bill, BillCategory, Payment, User, UtilityProvider
from webapp.providers import registry
from webapp.providers.base import CustomerInfo
from webapp.services.payments import creation


class UtilityPaymentManager:
    def validate_utility_customer(self, entry: UtilityProvider, customer_number: str) -> CustomerInfo:
        """Ask the entry's bills provider who the customer is (raises ``ProviderError``)."""
        service = registry.utility_service(entry.api_provider, current_app.config)
        return service.validate_customer(entry, customer_number)

    def process_one_time_utility_payment(self, user: User, account_id: int, amount_kobo: int,
                                         submit_key: str) -> Payment:
        return creation.create_utility_payment(user, account_id, amount_kobo, submit_key)

    def get_user_utility_bills(self, user: User) -> list[Bill]:
        """Open bills the resident owes a utility provider (user-managed bills)."""
        return list(db.session.scalars(
            select(Bill).where(Bill.user_id == user.id, Bill.category == BillCategory.USER_MANAGED.value,
                               Bill.status.in_(("pending", "partially_paid", "overdue")))
            .order_by(Bill.due_date)
        ))

    def get_payment(self, user: User, payment_id) -> Payment | None:
        return creation.get_for_user(user.id, payment_id)
