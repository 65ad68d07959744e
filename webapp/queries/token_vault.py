"""The token vault: every electricity token a resident bought, newest first, per meter.

Read-only and scoped to one resident. A row is a succeeded payment with its token, or one whose
token is still on its way (``Payment.token_on_its_way``), so a late token appears in its place the
moment it arrives. A page costs the same statements however many tokens it lists (its account
loads in the same statement; the timeline is never read).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from webapp.extensions import db
from webapp.models import Payment, PaymentStatus, UtilityAccount, UtilityProvider
from webapp.services import access

PER_PAGE = 20

VAULT_COLUMNS = (Payment.id, Payment.user_id, Payment.reference, Payment.created_at, Payment.completed_at,
                 Payment.utility_account_id, Payment.amount_kobo, Payment.status, Payment.token, Payment.units,
                 Payment.key_change_token_1, Payment.key_change_token_2, Payment.token_next_check_at,
                 Payment.token_received_at, Payment.token_used_at)
ACCOUNT_COLUMNS = (UtilityAccount.nickname, UtilityAccount.number_last4, UtilityAccount.removed_at)


@dataclass(frozen=True)
class VaultFilters:
    meter_id: int | None = None

    def query_args(self) -> dict[str, str]:
        return {"meter": str(self.meter_id)} if self.meter_id is not None else {}

    @property
    def active(self) -> bool:
        return self.meter_id is not None


def token_came_at(payment: Payment) -> datetime:
    """When the resident got the token: its late arrival, else the purchase's end, else its start."""
    return payment.token_received_at or payment.completed_at or payment.created_at


def past_validity(payment: Payment, now: datetime, validity_days: int) -> bool:
    """A token the resident has not marked used, older than ``validity_days`` (``TOKEN_VALIDITY_DAYS``)."""
    if not payment.token or payment.token_used_at is not None or validity_days <= 0:
        return False
    return token_came_at(payment) < now - timedelta(days=validity_days)


def resident_meters(user_id: int) -> list[UtilityAccount]:
    """The resident's electricity accounts for the meter filter, removed ones last (their tokens stay)."""
    return list(db.session.scalars(
        select(UtilityAccount).join(UtilityProvider, UtilityProvider.id == UtilityAccount.provider_id)
        .where(UtilityAccount.user_id == user_id, UtilityProvider.provider_type == "electricity")
        .options(load_only(*ACCOUNT_COLUMNS), lazyload(UtilityAccount.provider))
        .order_by(UtilityAccount.removed_at.is_not(None), UtilityAccount.nickname, UtilityAccount.id)
    ))


def _in_vault():
    # Succeeded only: a purchase an admin refunded was undone, and its token goes with it.
    return and_(Payment.status == PaymentStatus.SUCCEEDED.value,
                or_(Payment.token.is_not(None), Payment.token_next_check_at.is_not(None)))


@functools.cache
def _options() -> tuple:
    return (load_only(*VAULT_COLUMNS),
            joinedload(Payment.utility_account).load_only(*ACCOUNT_COLUMNS).lazyload(UtilityAccount.provider),
            lazyload(Payment.events))


def vault_page(user_id: int, filters: VaultFilters, page: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """One page of the resident's tokens (and tokens on their way), newest first."""
    query = select(Payment).where(Payment.user_id == user_id, _in_vault())
    if filters.meter_id is not None:
        query = query.where(Payment.utility_account_id == filters.meter_id)
    query = query.options(*_options()).order_by(Payment.created_at.desc(), Payment.id.desc())
    return db.paginate(query, page=max(page, 1), per_page=per_page, max_per_page=100, error_out=False)


def vault_entry(user_id: int, payment_id) -> Payment | None:
    """One of the resident's vault rows by id (for a partial re-render); None for anyone else's."""
    payment = access.own_payment(user_id, payment_id, *_options())
    if payment is None or payment.status != PaymentStatus.SUCCEEDED or not (payment.token or payment.token_on_its_way):
        return None
    return payment
