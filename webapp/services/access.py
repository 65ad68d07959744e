"""Who may see or act on what, for residents and admins alike.

- A resident sees their own payments, utility accounts (not removed ones, unless asked), estate
  bills and automations (not deleted ones), and the catalogue of their own estate.
- An estate admin sees everything that belongs to their estate; a platform admin every estate.
- A member of a household, acting for it, sees the owner's household things (a ``Scope``): the
  owner's linked accounts, the payments made on them and the automations that pay them; never the
  owner's estate bills, cards or settings. What the member may *change* is the role's (``Scope``'s
  ``may_*``), checked once per blueprint by the web layer.

Every lookup by an id that came from outside (a URL, a form, a query string) goes through here.
Anything the person may not see comes back as ``None``, exactly like an id that does not exist,
and the caller answers 404: an id never tells a stranger whether it exists. Ids arrive as text
or numbers; anything that is not a sane id is simply not found.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false, select

from webapp.extensions import db
from webapp.models import (
    Automation,
    Bill,
    BillCategory,
    Estate,
    HouseholdMember,
    MemberRole,
    MembershipStatus,
    Payment,
    PaymentKind,
    User,
    UtilityAccount,
    UtilityProvider,
)
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


# --- households ------------------------------------------------------------------------------------

OWNER = "owner"


@dataclass(frozen=True)
class Scope:
    """Whose things a request works on: ``owner_id``'s, by ``actor_id`` in ``role`` (``OWNER`` for a
    resident acting as themselves, else the ``MemberRole`` of their membership ``membership_id``)."""

    owner_id: int
    actor_id: int
    role: str = OWNER
    membership_id: int | None = None

    @classmethod
    def own(cls, user_id: int) -> Scope:
        return cls(user_id, user_id)

    @property
    def is_member(self) -> bool:
        return self.role != OWNER

    @property
    def may_pay(self) -> bool:
        """Pay from the owner's wallet and manage automations (a payer within their limit)."""
        return self.role in (OWNER, MemberRole.PAYER, MemberRole.CO_OWNER)

    @property
    def may_manage(self) -> bool:
        """Link, rename and remove accounts, autopay settings, the household's members."""
        return self.role in (OWNER, MemberRole.CO_OWNER)


def household_scope(actor_id: int, membership_id) -> Scope | None:
    """The scope of ``actor_id`` acting for the household of membership ``membership_id``; None unless
    that membership is the actor's own and active (removed, still invited, or anyone else's)."""
    membership_id = parse_id(membership_id)
    if membership_id is None:
        return None
    row = db.session.execute(
        select(HouseholdMember.owner_id, HouseholdMember.role).where(
            HouseholdMember.id == membership_id, HouseholdMember.member_id == actor_id,
            HouseholdMember.status == MembershipStatus.ACTIVE.value)).one_or_none()
    return None if row is None else Scope(row.owner_id, actor_id, row.role, membership_id)


def _owner_of(who: int | Scope) -> tuple[int, bool]:
    """(whose things, whether a member is looking) for a user id or a ``Scope``."""
    return (who.owner_id, who.is_member) if isinstance(who, Scope) else (who, False)


# --- a resident's own things (or their household's, for a member) ---------------------------------

def own_payments(who: int | Scope) -> Select:
    """The resident's payments; for a member, the household's: those on the owner's accounts."""
    owner_id, member = _owner_of(who)
    query = select(Payment).where(Payment.user_id == owner_id)
    return query.where(Payment.kind == PaymentKind.UTILITY.value) if member else query

def own_payment(who: int | Scope, payment_id, *options) -> Payment | None:
    """The payment if it is the resident's (or their household's); ``options`` are loader options."""
    payment_id = parse_id(payment_id)
    if payment_id is None:
        return None
    query = own_payments(who).where(Payment.id == payment_id)
    return db.session.scalar(query.options(*options) if options else query)


def own_utility_accounts(who: int | Scope, include_removed: bool = False) -> Select:
    """The resident's linked accounts (removed ones only when asked): the household's accounts."""
    query = select(UtilityAccount).where(UtilityAccount.user_id == _owner_of(who)[0])
    return query if include_removed else query.where(UtilityAccount.removed_at.is_(None))


def own_utility_account(who: int | Scope, account_id, include_removed: bool = False) -> UtilityAccount | None:
    account_id = parse_id(account_id)
    if account_id is None:
        return None
    return db.session.scalar(own_utility_accounts(who, include_removed).where(UtilityAccount.id == account_id))


def own_estate_bills(who: int | Scope) -> Select:
    """The resident's estate bills (the estate's charges; utility bills are paid as purchases). Not
    shared with a household: a member sees none of the owner's."""
    owner_id, member = _owner_of(who)
    query = select(Bill).where(Bill.user_id == owner_id, Bill.category == BillCategory.CLUSTER_MANAGED.value)
    return query.where(false()) if member else query


def own_estate_bill_query(who: int | Scope, bill_id) -> Select | None:
    """The query for one of the resident's estate bills, for callers that lock it; None if the id is not one."""
    bill_id = parse_id(bill_id)
    return None if bill_id is None else own_estate_bills(who).where(Bill.id == bill_id)


def own_estate_bill(who: int | Scope, bill_id) -> Bill | None:
    query = own_estate_bill_query(who, bill_id)
    return None if query is None else db.session.scalar(query)


def own_automations(who: int | Scope) -> Select:
    """The resident's automations, not the deleted ones; for a member, those paying the owner's
    accounts (not the owner's estate bills)."""
    owner_id, member = _owner_of(who)
    query = select(Automation).where(Automation.user_id == owner_id, Automation.deleted_at.is_(None))
    return query.where(Automation.target_kind == "utility") if member else query


def own_automation(who: int | Scope, automation_id) -> Automation | None:
    automation_id = parse_id(automation_id)
    if automation_id is None:
        return None
    return db.session.scalar(own_automations(who).where(Automation.id == automation_id))


def estate_catalogue_entry(estate_id: int | None, entry_id) -> UtilityProvider | None:
    """A catalogue entry of this estate (a resident's own estate, or one an admin may see)."""
    entry_id = parse_id(entry_id)
    if entry_id is None or estate_id is None:
        return None
    return db.session.scalar(
        select(UtilityProvider).where(UtilityProvider.id == entry_id, UtilityProvider.estate_id == estate_id))
