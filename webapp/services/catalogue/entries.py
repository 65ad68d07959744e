"""What an estate admin does to the provider catalogue: add, edit, switch entries on and off, sync.

Rules kept here rather than in the admin views:
- an entry is valid only with both codes, a known utility type and provider, and minimum ≤ maximum;
- switching an entry off pauses every running automation that pays through it (the resident is
  told why), because the sweep would otherwise fail on it every time it runs; a sync that retires
  entries does the same;
- a sync is applied only if it is exactly what the admin previewed (``plan_digest``);
- every action writes ONE audit row, in the transaction that does it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import Automation, UtilityAccount, UtilityProvider
from webapp.models.catalogue import (
    ADMIN_KEEPS,
    API_PROVIDERS,
    METER_TYPES,
    ORIGIN_ADMIN,
    UTILITY_TYPES,
    api_provider_label,
)
from webapp.providers import registry
from webapp.providers.base import ProviderConfigError, ProviderError
from webapp.services import audit, catalogue
from webapp.services.automations import outcomes as automation_outcomes

# Columns an admin sets on the form; ``is_active`` has its own actions.
EDITABLE = ("name", "provider_type", "api_provider", "provider_code", "item_code", "biller_name", "meter_type",
            "label_name", "fixed_amount_kobo", "min_amount_kobo", "max_amount_kobo", "fee_kobo",
            "supports_validation")
IDENTITY = ("api_provider", "provider_code", "item_code")
_LIMITS = {"name": 160, "provider_code": 64, "item_code": 64, "biller_name": 160, "label_name": 60}


class EntryError(ValueError):
    """A catalogue change we refuse, with a message for the page and the form field it is about."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


# --- listing --------------------------------------------------------------------------------------

def entries_page(estate_ids: list[int], *, search: str = "", utility_type: str | None = None,
                 api_provider: str | None = None, active: bool | None = None, page: int = 1,
                 per_page: int = 50) -> Pagination:
    """Catalogue entries of the given estates, filtered; search matches name or either code."""
    query = select(UtilityProvider).where(UtilityProvider.estate_id.in_(estate_ids))
    if search:
        like = f"%{search.lower()}%"
        query = query.where(or_(func.lower(UtilityProvider.name).like(like),
                                func.lower(UtilityProvider.provider_code).like(like),
                                func.lower(UtilityProvider.item_code).like(like)))
    if utility_type:
        query = query.where(UtilityProvider.provider_type == utility_type)
    if api_provider:
        query = query.where(UtilityProvider.api_provider == api_provider)
    if active is not None:
        query = query.where(UtilityProvider.is_active.is_(active))
    query = query.options(joinedload(UtilityProvider.estate)).order_by(
        UtilityProvider.estate_id, UtilityProvider.provider_type, UtilityProvider.name, UtilityProvider.id)
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


# --- add and edit ---------------------------------------------------------------------------------

def clean_values(values: Mapping) -> dict:
    """The entry's column values, trimmed and checked; ``EntryError`` names the first problem."""
    clean = {name: values.get(name) for name in EDITABLE}
    for name, limit in _LIMITS.items():
        clean[name] = " ".join(str(clean[name] or "").split())
        if len(clean[name]) > limit:
            raise EntryError(f"Use at most {limit} characters.", name)
    for name, words in (("name", "a name"), ("provider_code", "the provider code"), ("item_code", "the item code")):
        if not clean[name]:
            raise EntryError(f"Enter {words}.", name)
    if clean["provider_type"] not in UTILITY_TYPES:
        raise EntryError("Choose a utility type: electricity, water, internet or cable TV.", "provider_type")
    if clean["api_provider"] not in API_PROVIDERS:
        raise EntryError("Choose Flutterwave or VTpass.", "api_provider")
    clean["meter_type"] = clean["meter_type"] or None
    if clean["meter_type"] not in (None, *METER_TYPES):
        raise EntryError("Choose prepaid, postpaid or none.", "meter_type")
    clean["label_name"] = clean["label_name"] or None
    for name in ("fixed_amount_kobo", "min_amount_kobo", "fee_kobo"):
        clean[name] = clean[name] or 0
    for name in ("fixed_amount_kobo", "min_amount_kobo", "max_amount_kobo", "fee_kobo"):
        amount = clean[name]
        if amount is not None and (type(amount) is not int or amount < 0):
            raise EntryError("Enter an amount in naira, like 500 or 1,000.50.", name.removesuffix("_kobo"))
    low, high, fixed = clean["min_amount_kobo"], clean["max_amount_kobo"], clean["fixed_amount_kobo"]
    if high is not None and low > high:
        raise EntryError("The minimum must not be above the maximum.", "min_amount")
    if fixed and (fixed < low or (high is not None and fixed > high)):
        raise EntryError("A fixed price must lie between the minimum and the maximum.", "fixed_amount")
    clean["supports_validation"] = bool(clean["supports_validation"])
    return clean


def _duplicate(estate_id: int, values: dict, except_id: int | None = None) -> bool:
    query = select(UtilityProvider.id).where(UtilityProvider.estate_id == estate_id,
                                             *(getattr(UtilityProvider, k) == values[k] for k in IDENTITY))
    if except_id is not None:
        query = query.where(UtilityProvider.id != except_id)
    return db.session.scalar(query) is not None


def create_entry(estate_id: int, values: Mapping, *, active: bool = True) -> UtilityProvider:
    """Add an entry an admin typed in (audited). ``EntryError`` when it is invalid or a duplicate.

    Its origin is "admin": catalogue syncs never change or retire it (``catalogue.plan_sync``).
    """
    clean = clean_values(values)
    if _duplicate(estate_id, clean):
        raise EntryError("This estate already has an entry with this provider and these codes.", "item_code")
    entry = UtilityProvider(estate_id=estate_id, is_active=active, origin=ORIGIN_ADMIN, **clean)
    db.session.add(entry)
    db.session.flush()
    audit.record("catalogue.create", "utility_provider", entry.id, estate_id=estate_id,
                 after=audit.snapshot(entry, (*EDITABLE, "is_active", "origin")))
    db.session.commit()
    return entry


def _linked_accounts(entry_id: int) -> int:
    return db.session.scalar(select(func.count(UtilityAccount.id)).where(UtilityAccount.provider_id == entry_id))


def update_entry(entry: UtilityProvider, values: Mapping) -> UtilityProvider:
    """Change an entry (audited, before and after of the changed fields only).

    The provider and codes of an entry residents have linked accounts to cannot change: those
    accounts would silently start paying a different product.

    On an entry from the catalogue, edited display fields (``ADMIN_KEEPS``) are marked the admin's,
    so later syncs keep them; new provider or codes make it an entry added by hand, since the
    provider's listing no longer describes it (a sync would otherwise retire it).
    """
    clean = clean_values(values)
    changed = [name for name in EDITABLE if getattr(entry, name) != clean[name]]
    if not changed:
        return entry
    if any(name in IDENTITY for name in changed) and _linked_accounts(entry.id):
        raise EntryError("Residents have accounts linked to this entry, so its provider and codes cannot change. "
                         "Add a new entry instead.", "item_code")
    if _duplicate(entry.estate_id, clean, except_id=entry.id):
        raise EntryError("This estate already has an entry with this provider and these codes.", "item_code")
    if entry.is_from_catalogue:
        if any(name in IDENTITY for name in changed):
            changed.append("origin")
            clean["origin"] = ORIGIN_ADMIN
        elif ((kept := sorted(set(entry.admin_set_fields or ()) | {n for n in changed if n in ADMIN_KEEPS}))
              and kept != sorted(entry.admin_set_fields or ())):
            changed.append("admin_set_fields")
            clean["admin_set_fields"] = kept
    before = audit.snapshot(entry, tuple(changed))
    for name in changed:
        setattr(entry, name, clean[name])
    audit.record("catalogue.update", "utility_provider", entry.id, estate_id=entry.estate_id, before=before,
                 after=audit.snapshot(entry, tuple(changed)))
    db.session.commit()
    return entry


# --- switching on and off -------------------------------------------------------------------------

def _pause_automations_using(entry_ids: Iterable[int], reasons: Mapping[int, str]) -> list[int]:
    """Pause every running automation paying through these entries; the resident is told why."""
    entry_ids = list(entry_ids)
    if not entry_ids:
        return []
    rows = db.session.execute(
        select(Automation, UtilityAccount.provider_id)
        .join(UtilityAccount, Automation.utility_account_id == UtilityAccount.id)
        .where(UtilityAccount.provider_id.in_(entry_ids), Automation.enabled.is_(True),
               Automation.paused_at.is_(None), Automation.deleted_at.is_(None))
        .order_by(Automation.id)
    ).all()
    for automation, entry_id in rows:
        automation_outcomes.pause(automation, reasons[entry_id])
    return [automation.id for automation, _ in rows]


def _offer_ended(name: str) -> str:
    return f"{name} is no longer offered in your estate, so this automatic payment is paused. " \
           "Choose another provider for the account, then resume it."


def _lock(entry: UtilityProvider) -> UtilityProvider:
    # Re-read under a row lock so two admins switching the same entry write one change, not two.
    return db.session.scalars(select(UtilityProvider).where(UtilityProvider.id == entry.id).with_for_update()
                              .execution_options(populate_existing=True)).one()


def deactivate_entry(entry: UtilityProvider, reason: str | None = None) -> list[int]:
    """Switch an entry off: residents can no longer choose it, and its running automations pause.

    Returns the ids of the automations paused (also in the audit row's ``after``).
    """
    entry = _lock(entry)
    if not entry.is_active:
        db.session.rollback()
        raise EntryError(f"{entry.name} is already switched off.")
    entry.is_active = False
    paused = _pause_automations_using([entry.id], {entry.id: _offer_ended(entry.name)})
    audit.record("catalogue.deactivate", "utility_provider", entry.id, estate_id=entry.estate_id,
                 before={"is_active": True}, after={"is_active": False, "paused_automation_ids": paused},
                 reason=(reason or "").strip() or None)
    db.session.commit()
    return paused


def activate_entry(entry: UtilityProvider) -> None:
    """Offer an entry again. Paused automations stay paused: each resident resumes their own."""
    entry = _lock(entry)
    if entry.is_active or entry.is_retired:
        db.session.rollback()
    if entry.is_active:
        raise EntryError(f"{entry.name} is already offered.")
    if entry.is_retired:
        raise EntryError(f"{api_provider_label(entry.api_provider)} no longer lists {entry.name}; "
                         "it comes back when a sync finds it.")
    entry.is_active = True
    audit.record("catalogue.activate", "utility_provider", entry.id, estate_id=entry.estate_id,
                 before={"is_active": False}, after={"is_active": True})
    db.session.commit()


# --- sync with a preview --------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncPreview:
    """One provider's sync plan for an estate and its digest, or why there is none."""

    api_provider: str
    plan: catalogue.SyncPlan | None = None
    digest: str = ""
    problem: str | None = None


def plan_digest(plan: catalogue.SyncPlan) -> str:
    """A fingerprint of exactly what ``plan`` would write (rejected items are not applied, so not in it)."""
    payload = {
        "estate": plan.estate_id, "providers": list(plan.api_providers),
        "add": [[list(a.key), a.values] for a in plan.to_add],
        "change": [[c.entry_id, list(c.key), [[f.field, f.before, f.after] for f in c.changes]]
                   for c in plan.to_change],
        "retire": [[r.entry_id, list(r.key)] for r in plan.to_retire],
    }
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def preview_sync(estate_id: int, api_provider: str, config: Mapping) -> SyncPreview:
    """Fetch the provider's listing and plan the estate's sync. Reads only; nothing is written.

    An empty listing is a problem, not a plan to retire everything (see ``catalogue.sync_from_provider``).
    """
    if api_provider not in API_PROVIDERS:
        raise EntryError("Choose Flutterwave or VTpass.")
    try:
        items = registry.utility_service(api_provider, config).get_utility_providers()
    except ProviderError as exc:
        return SyncPreview(api_provider, problem=exc.message or str(exc))
    except ProviderConfigError as exc:
        return SyncPreview(api_provider, problem=str(exc))
    if not items:
        return SyncPreview(api_provider, problem="The provider returned an empty catalogue; nothing to sync.")
    plan = catalogue.plan_sync(estate_id, items, api_provider=api_provider)
    return SyncPreview(api_provider, plan=plan, digest=plan_digest(plan))


@dataclass(frozen=True)
class SyncOutcome:
    applied: bool
    preview: SyncPreview
    message: str
    paused_automation_ids: tuple[int, ...] = ()


def apply_previewed_sync(estate_id: int, api_provider: str, digest: str, config: Mapping) -> SyncOutcome:
    """Plan again and apply only if the plan is the one the admin saw (same digest); else return the
    new preview unapplied. Retired entries pause their automations like a manual switch-off.
    The catalogue change, the pauses and ONE audit row commit together."""
    preview = preview_sync(estate_id, api_provider, config)
    if preview.plan is None:
        return SyncOutcome(False, preview, preview.problem or "The provider could not be asked.")
    if preview.digest != digest:
        return SyncOutcome(False, preview, "The catalogue or the provider's listing changed since the preview. "
                                           "Check the new preview below, then apply it.")
    plan = preview.plan
    if plan.is_noop:
        return SyncOutcome(False, preview, "Nothing to change: the catalogue already matches the provider.")
    retiring = {r.entry_id: _offer_ended(r.name) for r in plan.to_retire}
    paused = _pause_automations_using(retiring, retiring)
    audit.record("catalogue.sync", "estate", estate_id, estate_id=estate_id, after={
        "api_provider": api_provider, "summary": plan.summary(),
        "added": [list(a.key) for a in plan.to_add], "changed_entry_ids": [c.entry_id for c in plan.to_change],
        "retired_entry_ids": list(retiring), "paused_automation_ids": paused,
    })
    try:
        catalogue.apply_sync(estate_id, plan)  # commits the audit row and pauses with the plan
    except catalogue.CatalogueSyncError as exc:
        db.session.rollback()
        return SyncOutcome(False, preview_sync(estate_id, api_provider, config), str(exc).capitalize() + ".")
    return SyncOutcome(True, preview, f"{plan.summary()}.", tuple(paused))
