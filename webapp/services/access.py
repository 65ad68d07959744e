"""Who may see or act on what, for residents and admins alike.

- A resident sees their own payments, utility accounts (not removed ones, unless asked), estate
  bills and automations (not deleted ones), and the catalogue of their own estate.
- An estate admin sees everything that belongs to their estate; a platform admin every estate.

Every lookup by an id that came from outside (a URL, a form, a query string) goes through here.
Anything the person may not see comes back as ``None``, exactly like an id that does not exist,
and the caller answers 404: an id never tells a stranger whether it exists. Ids arrive as text
or numbers; anything that is not a sane id is simply not found.
"""
from __future__ import annotations

from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.models import Automation, Bill, BillCategory, Estate, Payment, User, UtilityAccount, UtilityProvider
from webapp.request_numbers import parse_id

# --- estates (admins) ------------------------------------------------------------------------------

def visible_estate_ids(user: User) -> list[int]:
    """The estates an admin may see: every estate for a platform admin, else their own."""
    if user.is_platform_admin:
        return list(db.session.scalars(select(Estate.id)))
    return [user.estate_id] if user.estate_id is not None else []


def visible_estates(user: User) -> list[Estate]:
    query = select(Estate).order_by(Estate.name)
    if not user.is_platform_admin:
        query = query.where(Estate.id == user.estate_id)
    return list(db.session.scalars(query))


def can_see_estate(user: User, estate_id: int | None) -> bool:
    return estate_id is not None and (user.is_platform_admin or estate_id == user.estate_id)


def estate_row(user: User, model, row_id):
    """The row of ``model`` (anything with an ``estate_id``) if the admin may see its estate."""
    row_id = parse_id(row_id)
    row = db.session.get(model, row_id) if row_id is not None else None
    if row is None or not can_see_estate(user, getattr(row, "estate_id", None)):
        return None
    return row


# --- a resident's own things -----------------------------------------------------------------------

def own_payment(user_id: int, payment_id, *options) -> Payment | None:
    """The payment if it is the resident's; ``options`` are loader options for the query."""
    payment_id = parse_id(payment_id)
    if payment_id is None:
        return None
    query = select(Payment).where(Payment.id == payment_id, Payment.user_id == user_id)
    return db.session.scalar(query.options(*options) if options else query)


def own_utility_accounts(user_id: int, include_removed: bool = False) -> Select:
    """The resident's linked accounts (removed ones only when asked)."""
    query = select(UtilityAccount).where(UtilityAccount.user_id == user_id)
    return query if include_removed else query.where(UtilityAccount.removed_at.is_(None))


def own_utility_account(user_id: int, account_id, include_removed: bool = False) -> UtilityAccount | None:
    account_id = parse_id(account_id)
    if account_id is None:
        return None
    return db.session.scalar(own_utility_accounts(user_id, include_removed).where(UtilityAccount.id == account_id))


def own_estate_bills(user_id: int) -> Select:
    """The resident's estate bills (the estate's charges; utility bills are paid as purchases)."""
    return select(Bill).where(Bill.user_id == user_id, Bill.category == BillCategory.CLUSTER_MANAGED.value)


def own_estate_bill_query(user_id: int, bill_id) -> Select | None:
    """The query for one of the resident's estate bills, for callers that lock it; None if the id is not one."""
    bill_id = parse_id(bill_id)
    return None if bill_id is None else own_estate_bills(user_id).where(Bill.id == bill_id)


def own_estate_bill(user_id: int, bill_id) -> Bill | None:
    query = own_estate_bill_query(user_id, bill_id)
    return None if query is None else db.session.scalar(query)


def own_automations(user_id: int) -> Select:
    """The resident's automations, not the deleted ones."""
    return select(Automation).where(Automation.user_id == user_id, Automation.deleted_at.is_(None))


def own_automation(user_id: int, automation_id) -> Automation | None:
    automation_id = parse_id(automation_id)
    if automation_id is None:
        return None
    return db.session.scalar(own_automations(user_id).where(Automation.id == automation_id))


def estate_catalogue_entry(estate_id: int | None, entry_id) -> UtilityProvider | None:
    """A catalogue entry of this estate (a resident's own estate, or one an admin may see)."""
    entry_id = parse_id(entry_id)
    if entry_id is None or estate_id is None:
        return None
    return db.session.scalar(
        select(UtilityProvider).where(UtilityProvider.id == entry_id, UtilityProvider.estate_id == estate_id))
