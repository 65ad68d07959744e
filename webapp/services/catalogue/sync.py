"""The utility provider catalogue of each estate, kept in step with what the bills providers list.

A sync is two steps so an admin can see what will happen before it happens:
``plan_sync`` compares a provider's listing with the estate's entries and returns a ``SyncPlan``
(pure: reads, never writes); ``apply_sync`` carries out exactly that plan and refuses a plan that
no longer matches the database. ``sync_from_provider`` does both for one provider client.
Running a sync twice changes nothing the second time: an unchanged entry is not written at all.

Entries the provider no longer lists are retired (switched off, ``retired_at`` set), never deleted:
payments and automations keep pointing at them. An entry that is listed again comes back.

Only entries that came from the provider's catalogue (``origin == "catalogue"``) are the sync's to
change or retire. An entry an estate admin added by hand is never touched: when the provider lists
an item with the same key, the plan reports it in ``kept_by_admin`` and leaves the admin's values.
On an entry from the catalogue, display fields an admin edited (``admin_set_fields``) stay too.
"""
from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.catalogue import API_PROVIDERS, METER_TYPES, ORIGIN_CATALOGUE, UTILITY_TYPES, UtilityProvider
from webapp.money import naira
from webapp.providers.base import CatalogueItem


class CatalogueSyncError(RuntimeError):
    """A sync could not be carried out; nothing was changed."""


Key = tuple[str, str, str]  # (api_provider, provider_code, item_code)

# Columns a sync copies from the provider's listing. ``is_active`` is the admin's, not the sync's.
SYNCED_FIELDS = (
    "name", "provider_type", "biller_name", "label_name", "meter_type", "fixed_amount_kobo",
    "min_amount_kobo", "max_amount_kobo", "fee_kobo", "supports_validation",
)
_AMOUNT_FIELDS = ("fixed_amount_kobo", "min_amount_kobo", "fee_kobo")


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class EntryChange:
    entry_id: int
    key: Key
    name: str
    changes: tuple[FieldChange, ...]

    @property
    def revives(self) -> bool:
        """True when the provider lists again an entry that an earlier sync retired."""
        return any(c.field == "retired_at" for c in self.changes)


@dataclass(frozen=True)
class EntryAddition:
    key: Key
    values: dict


@dataclass(frozen=True)
class EntryRetirement:
    entry_id: int
    key: Key
    name: str


@dataclass(frozen=True)
class EntryKept:
    """A listed item whose key matches an entry an admin added by hand: the sync leaves it alone."""

    entry_id: int
    key: Key
    name: str


@dataclass(frozen=True)
class RejectedItem:
    key: Key
    reason: str


@dataclass
class SyncPlan:
    """What a sync would do to one estate's catalogue. Build with ``plan_sync``."""

    estate_id: int
    api_providers: tuple[str, ...]
    to_add: list[EntryAddition] = field(default_factory=list)
    to_change: list[EntryChange] = field(default_factory=list)
    to_retire: list[EntryRetirement] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[RejectedItem] = field(default_factory=list)
    kept_by_admin: list[EntryKept] = field(default_factory=list)
    # Every entry of these providers added by hand, listed or not: a sync before origins retired them.
    kept_by_hand: int = 0

    @property
    def is_noop(self) -> bool:
        return not (self.to_add or self.to_change or self.to_retire)

    def summary(self) -> str:
        text = (f"{len(self.to_add)} added, {len(self.to_change)} updated, {len(self.to_retire)} retired, "
                f"{self.kept_by_hand} kept because added by hand, {self.unchanged} unchanged")
        return text + (f", {len(self.rejected)} rejected" if self.rejected else "")


def _key_of(item: CatalogueItem) -> Key:
    return (str(item.api_provider or ""), str(item.provider_code or ""), str(item.item_code or ""))


def _text(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


def _desired(item: CatalogueItem) -> dict:
    """The column values an item asks for, or ``ValueError`` saying why it cannot be stored."""
    api_provider, provider_code, item_code = _key_of(item)
    if api_provider not in API_PROVIDERS:
        raise ValueError(f"unknown api_provider {api_provider!r}")
    if item.utility_type not in UTILITY_TYPES:
        raise ValueError(f"unknown utility type {item.utility_type!r}")
    if not provider_code or not item_code or len(provider_code) > 64 or len(item_code) > 64:
        raise ValueError("provider_code and item_code must be 1-64 characters")
    meter_type = item.meter_type or None
    if meter_type is not None and meter_type not in METER_TYPES:
        raise ValueError(f"unknown meter type {meter_type!r}")
    values = {
        "name": _text(item.name or item.biller_name or item_code, 160),
        "provider_type": item.utility_type,
        "biller_name": _text(item.biller_name, 160),
        "label_name": _text(item.label_name, 60) or None,
        "meter_type": meter_type,
        # The listing says None where it sets no bound or fee; the columns store 0 for those.
        "fixed_amount_kobo": item.fixed_amount_kobo or 0,
        "min_amount_kobo": item.min_amount_kobo or 0,
        "max_amount_kobo": item.max_amount_kobo,
        "fee_kobo": item.fee_kobo or 0,
        "supports_validation": bool(item.supports_validation),
    }
    for name in (*_AMOUNT_FIELDS, "max_amount_kobo"):
        amount = values[name]
        if amount is None and name == "max_amount_kobo":
            continue
        if type(amount) is not int or amount < 0:
            raise ValueError(f"{name} must be a whole, non-negative number of kobo, got {amount!r}")
    if values["max_amount_kobo"] is not None and values["min_amount_kobo"] > values["max_amount_kobo"]:
        raise ValueError("minimum amount is above the maximum")
    return values


def _entries(estate_id: int, api_providers: Iterable[str]) -> dict[Key, UtilityProvider]:
    rows = db.session.scalars(
        select(UtilityProvider).where(
            UtilityProvider.estate_id == estate_id, UtilityProvider.api_provider.in_(list(api_providers))
        )
    )
    return {(e.api_provider, e.provider_code, e.item_code): e for e in rows}


def plan_sync(estate_id: int, items: Iterable[CatalogueItem], api_provider: str | None = None) -> SyncPlan:
    """Compare a provider listing with the estate's catalogue. Reads only; nothing is written.

    Entries are matched on (api_provider, provider_code, item_code). Retirement only considers
    entries of the providers being synced: ``api_provider`` when given (then items of any other
    provider are rejected), else every provider that appears in ``items``; and of those only the
    entries that came from the catalogue. A listed item matching an entry an admin added by hand is
    reported in ``kept_by_admin`` and not applied; ``kept_by_hand`` counts every such entry. Fields
    an admin edited on a catalogue entry (``admin_set_fields``) are not planned to change. Items that
    cannot be stored (unknown type, min above max, duplicates, ...) are listed in ``rejected``, not
    applied.
    """
    items = list(items)
    scope = (api_provider,) if api_provider else tuple(sorted({str(i.api_provider) for i in items}))
    plan = SyncPlan(estate_id=estate_id, api_providers=scope)
    existing = _entries(estate_id, scope)
    seen: set[Key] = set()
    for item in sorted(items, key=_key_of):
        key = _key_of(item)
        if key in seen:
            plan.rejected.append(RejectedItem(key, "listed more than once"))
            continue
        if key[0] not in scope:
            plan.rejected.append(RejectedItem(key, f"not from {api_provider}"))
            continue
        try:
            values = _desired(item)
        except ValueError as exc:
            plan.rejected.append(RejectedItem(key, str(exc)))
            continue
        seen.add(key)
        entry = existing.get(key)
        if entry is None:
            plan.to_add.append(EntryAddition(key, values))
            continue
        if not entry.is_from_catalogue:
            plan.kept_by_admin.append(EntryKept(entry.id, key, entry.name))
            continue
        changes = [FieldChange(name, getattr(entry, name), values[name]) for name in SYNCED_FIELDS
                   if name not in (entry.admin_set_fields or ()) and getattr(entry, name) != values[name]]
        if entry.retired_at is not None:
            changes += [FieldChange("is_active", entry.is_active, True),
                        FieldChange("retired_at", entry.retired_at, None)]
        if changes:
            plan.to_change.append(EntryChange(entry.id, key, entry.name, tuple(changes)))
        else:
            plan.unchanged += 1
    for key in sorted(existing.keys() - seen):
        entry = existing[key]
        if entry.retired_at is None and entry.is_from_catalogue:
            plan.to_retire.append(EntryRetirement(entry.id, key, entry.name))
    plan.kept_by_hand = sum(1 for e in existing.values() if not e.is_from_catalogue)
    return plan


def _check_still_current(plan: SyncPlan, existing: dict[Key, UtilityProvider]) -> None:
    stale = [a.key for a in plan.to_add if a.key in existing]
    for change in plan.to_change:
        entry = existing.get(change.key)
        if entry is None or entry.id != change.entry_id or any(
            getattr(entry, c.field) != c.before for c in change.changes
        ):
            stale.append(change.key)
    for retirement in plan.to_retire:
        entry = existing.get(retirement.key)
        if entry is None or entry.id != retirement.entry_id or entry.retired_at is not None:
            stale.append(retirement.key)
    if stale:
        raise CatalogueSyncError(
            f"the catalogue changed since this sync was planned ({len(stale)} entries differ); plan it again"
        )


def apply_sync(estate_id: int, plan: SyncPlan) -> SyncPlan:
    """Carry out exactly ``plan`` and commit. Refuses (changing nothing) a plan gone stale.

    A plan can be shown to an admin and applied later; if the catalogue changed in between,
    applying it blindly could undo someone else's change, so every "before" is checked first.
    """
    if plan.estate_id != estate_id:
        raise CatalogueSyncError("this plan was made for another estate")
    if plan.is_noop:
        return plan
    existing = _entries(estate_id, {key[0] for key in _plan_keys(plan)})
    _check_still_current(plan, existing)
    now = utcnow()
    for addition in plan.to_add:
        _, provider_code, item_code = addition.key
        db.session.add(UtilityProvider(
            estate_id=estate_id, api_provider=addition.key[0], provider_code=provider_code,
            item_code=item_code, is_active=True, origin=ORIGIN_CATALOGUE, last_synced_at=now, **addition.values,
        ))
    for change in plan.to_change:
        entry = existing[change.key]
        for c in change.changes:
            setattr(entry, c.field, c.after)
        entry.last_synced_at = now
    for retirement in plan.to_retire:
        entry = existing[retirement.key]
        entry.is_active = False
        entry.retired_at = now
        entry.last_synced_at = now
    db.session.commit()
    return plan


def _plan_keys(plan: SyncPlan) -> list[Key]:
    return [a.key for a in plan.to_add] + [c.key for c in plan.to_change] + [r.key for r in plan.to_retire]


def sync_from_provider(estate_id: int, service, api_provider: str | None = None) -> SyncPlan:
    """Fetch a provider's listing through its client and bring the estate's catalogue in line.

    An empty listing is refused rather than read as "retire everything": a provider glitch must
    not switch off every bill an estate can pay. Provider errors (``ProviderError``) propagate.
    """
    api_provider = api_provider or getattr(service, "api_provider", None) or None
    items = list(service.get_utility_providers())
    if not items:
        raise CatalogueSyncError("the provider returned an empty catalogue; nothing was changed")
    return apply_sync(estate_id, plan_sync(estate_id, items, api_provider=api_provider))


def active_for_estate(estate_id: int, provider_type: str | None = None) -> list[UtilityProvider]:
    """Entries residents of the estate can buy now, optionally of one utility type, by type and name."""
    query = select(UtilityProvider).where(UtilityProvider.estate_id == estate_id, UtilityProvider.is_active)
    if provider_type is not None:
        query = query.where(UtilityProvider.provider_type == provider_type)
    return list(db.session.scalars(
        query.order_by(UtilityProvider.provider_type, UtilityProvider.name, UtilityProvider.id)
    ))


def amount_problem(entry: UtilityProvider, amount_kobo: int) -> str | None:
    """Why ``amount_kobo`` cannot be paid for this entry, in words for a resident; None if it can."""
    if entry.is_fixed_amount and amount_kobo != entry.fixed_amount_kobo:
        return f"{entry.name} costs exactly {naira(entry.fixed_amount_kobo)}."
    if amount_kobo <= 0:
        return "Enter an amount above zero."
    if amount_kobo < entry.min_amount_kobo:
        return f"The minimum for {entry.name} is {naira(entry.min_amount_kobo)}."
    if entry.max_amount_kobo is not None and amount_kobo > entry.max_amount_kobo:
        return f"The maximum for {entry.name} is {naira(entry.max_amount_kobo)}."
    if not entry.takes_kobo and amount_kobo % 100:
        return (f"{entry.name} is paid in whole naira only. Enter {naira(amount_kobo - amount_kobo % 100)} "
                f"or {naira(amount_kobo - amount_kobo % 100 + 100)}.")
    return None


# --- demo seeding -------------------------------------------------------------------------------

_CREDENTIALS = {
    "flutterwave": ("FLUTTERWAVE_SECRET_KEY",),
    "vtpass": ("VTPASS_API_KEY", "VTPASS_PUBLIC_KEY", "VTPASS_SECRET_KEY"),
}


@dataclass(frozen=True)
class SourceReport:
    """How syncing from one provider went: the applied plan, or why it was not synced."""

    api_provider: str
    plan: SyncPlan | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.plan is not None:
            return f"{self.api_provider}: synced ({self.plan.summary()})"
        return f"{self.api_provider}: not synced ({self.problem})"


def source_problem(api_provider: str, config: Mapping) -> str | None:
    """Why the catalogue cannot be fetched from this provider now (None = configured and reachable).

    A quick TCP connect, so a demo seed with the sandbox down says so at once instead of waiting
    for a client's read timeout.
    """
    prefix = api_provider.upper()
    base_url = config.get(f"{prefix}_BASE_URL") or ""
    if not base_url:
        return f"{prefix}_BASE_URL is not set"
    missing = [name for name in _CREDENTIALS[api_provider] if not config.get(name)]
    if missing:
        return f"{', '.join(missing)} not set"
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    timeout = min(float(config.get("PROVIDER_CONNECT_TIMEOUT") or 2.0), 2.0)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot reach {parts.hostname}:{port} ({exc.strerror or exc.__class__.__name__})"


def seed_catalogue(estate) -> list[SourceReport]:
    """Fill an estate's catalogue from every configured, reachable bills provider (demo seeding).

    Never raises for a provider that is down or misconfigured: its report says why instead.
    """
    config = current_app.config
    problems = {name: source_problem(name, config) for name in API_PROVIDERS}
    if all(problems.values()):
        return [SourceReport(name, problem=problem) for name, problem in problems.items()]
    # Imported only when there is something to fetch: the clients are not needed otherwise.
    from webapp.providers.base import ProviderConfigError, ProviderError
    from webapp.providers.registry import utility_service

    reports = []
    for api_provider, problem in problems.items():
        if problem is None:
            try:
                plan = sync_from_provider(estate.id, utility_service(api_provider, config), api_provider)
            except (ProviderError, ProviderConfigError, CatalogueSyncError) as exc:
                db.session.rollback()
                problem = getattr(exc, "message", None) or str(exc)
            else:
                reports.append(SourceReport(api_provider, plan=plan))
                continue
        reports.append(SourceReport(api_provider, problem=problem))
    return reports
