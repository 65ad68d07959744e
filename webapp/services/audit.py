"""Recording who did what to which object, with before/after snapshots (append-only)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from flask import has_request_context, request
from flask_login import current_user

from webapp.infra import bulk_writes
from webapp.models.audit import AuditEntry


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def snapshot(obj, fields: tuple[str, ...]) -> dict:
    """The named attributes of ``obj`` as JSON-safe values (for before/after)."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def record(action: str, object_type: str, object_id: int | None, *, estate_id: int | None,
           before: Mapping | None = None, after: Mapping | None = None, reason: str | None = None,
           actor: str | None = None) -> AuditEntry | None:
    """Add one audit row in the caller's transaction (it commits with the action it describes);
    the new entry, or None inside ``bulk_writes.deferred()`` (written at the block's end).

    The actor is the signed-in user when there is one, with the role they acted under (an estate
    admin's admin role), else ``actor`` (e.g. "system", "janitor") with no role.
    """
    user = current_user if has_request_context() and current_user and current_user.is_authenticated else None
    return bulk_writes.add(AuditEntry, dict(
        estate_id=estate_id,
        actor_id=user.id if user is not None else None,
        actor=(user.email if user is not None else actor or "system")[:120],
        actor_role=user.acting_role if user is not None else None,
        action=action[:60], object_type=object_type[:40], object_id=object_id,
        before=_plain(dict(before)) if before is not None else None,
        after=_plain(dict(after)) if after is not None else None,
        reason=(reason or None) and reason[:255],
        ip=(request.remote_addr or "")[:45] if has_request_context() else None,
    ))
