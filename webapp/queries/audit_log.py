"""Reading the audit log: filters, pages and a CSV export. Never writes (entries are append-only,
and only ``audit.record`` adds them).

An estate admin reads the entries of their estate; a platform admin reads every entry, including
those that belong to no estate (``estate_ids=None``).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from webapp.extensions import db
from webapp.models import AuditEntry
from webapp.queries.history import safe_cell

PER_PAGE = 50
CSV_BATCH = 500
CSV_HEADER = ["Time", "Actor", "Action", "Object type", "Object id", "Estate id", "Reason", "Before", "After", "IP",
              "Acted as"]
# What an entry's ``actor_role`` is called on the page and in the CSV.
ROLE_LABELS = {"manager": "Manager", "finance": "Finance", "viewer": "Viewer", "platform_admin": "Platform admin",
               "resident": "Resident"}


def role_label(actor_role: str | None) -> str:
    return "" if actor_role is None else ROLE_LABELS.get(actor_role, actor_role)


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    object_type: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return any((self.action, self.actor, self.object_type, self.date_from, self.date_to))

    def query_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for pagination links and the export)."""
        args = {"action": self.action, "actor": self.actor, "object_type": self.object_type,
                "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in args.items() if v}


def _filtered(estate_ids: list[int] | None, filters: AuditFilters, timezone: str) -> Select:
    query = select(AuditEntry)
    if estate_ids is not None:
        query = query.where(AuditEntry.estate_id.in_(estate_ids))
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.actor:
        query = query.where(func.lower(AuditEntry.actor).contains(filters.actor.lower(), autoescape=True))
    tz = ZoneInfo(timezone)
    if filters.date_from:
        query = query.where(AuditEntry.created_at >= datetime.combine(filters.date_from, time(), tz))
    if filters.date_to:
        query = query.where(AuditEntry.created_at < datetime.combine(filters.date_to + timedelta(days=1), time(), tz))
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def page(estate_ids: list[int] | None, filters: AuditFilters, timezone: str, page_number: int = 1,
         per_page: int = PER_PAGE):
    """Newest first, one page."""
    return db.paginate(_filtered(estate_ids, filters, timezone), page=max(page_number, 1), per_page=per_page,
                       max_per_page=200, error_out=False)


def choices(estate_ids: list[int] | None) -> tuple[list[str], list[str]]:
    """The actions and object types that occur in the admin's entries (for the filter lists)."""
    def distinct(column) -> list[str]:
        query = select(column).distinct().order_by(column)
        if estate_ids is not None:
            query = query.where(AuditEntry.estate_id.in_(estate_ids))
        return list(db.session.scalars(query))

    return distinct(AuditEntry.action), distinct(AuditEntry.object_type)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def csv_rows(estate_ids: list[int] | None, filters: AuditFilters, timezone: str) -> Iterator[list[str]]:
    """The header, then one row per entry (same filters and order as the page), read in batches.

    Every text cell goes through ``safe_cell``: an actor, reason or snapshot that starts with = + - @
    must not run as a formula in a spreadsheet.
    """
    tz = ZoneInfo(timezone)
    yield CSV_HEADER
    query = _filtered(estate_ids, filters, timezone).execution_options(yield_per=CSV_BATCH)
    for entry in db.session.scalars(query):
        yield [
            entry.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            safe_cell(entry.actor), safe_cell(entry.action), safe_cell(entry.object_type),
            "" if entry.object_id is None else str(entry.object_id),
            "" if entry.estate_id is None else str(entry.estate_id),
            safe_cell(entry.reason), safe_cell(_json(entry.before)), safe_cell(_json(entry.after)),
            safe_cell(entry.ip), safe_cell(role_label(entry.actor_role)),
        ]
