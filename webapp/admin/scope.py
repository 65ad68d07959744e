"""The signed-in admin's view of ``services.access``: their own estate, or every estate for a
platform admin. Every admin lookup goes through these, so a foreign id is a 404 everywhere."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from webapp.models import Estate
from webapp.services import access


def visible_estate_ids() -> list[int]:
    return access.visible_estate_ids(current_user)


def can_see_estate(estate_id: int | None) -> bool:
    return access.can_see_estate(current_user, estate_id)


def scoped(model, object_id):
    """The row of ``model`` with this id if its estate is visible to the admin, else 404."""
    return access.estate_row(current_user, model, object_id) or abort(404)


def visible_estates() -> list[Estate]:
    return access.visible_estates(current_user)
