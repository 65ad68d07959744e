"""What the signed-in admin may see: their own estate, or every estate for a platform admin.

Every admin query goes through these, so a foreign id is a 404 everywhere.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Estate
from webapp.request_numbers import parse_id


def visible_estate_ids() -> list[int]:
    if current_user.is_platform_admin:
        return list(db.session.scalars(select(Estate.id)))
    return [current_user.estate_id]


def can_see_estate(estate_id: int | None) -> bool:
    return estate_id is not None and (current_user.is_platform_admin or estate_id == current_user.estate_id)


def scoped(model, object_id):
    """The row of ``model`` with this id if its ``estate_id`` is visible to the admin, else 404."""
    object_id = parse_id(object_id)
    row = db.session.get(model, object_id) if object_id is not None else None
    if row is None or not can_see_estate(getattr(row, "estate_id", None)):
        abort(404)
    return row


def visible_estates() -> list[Estate]:
    query = select(Estate).order_by(Estate.name)
    if not current_user.is_platform_admin:
        query = query.where(Estate.id == current_user.estate_id)
    return list(db.session.scalars(query))
