"""Which estate an admin page acts on: their own, or the one a platform admin picked (?estate=)."""
from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from webapp.admin.scope import can_see_estate
from webapp.extensions import db
from webapp.models import Estate
from webapp.request_numbers import parse_id


def chosen_estate() -> Estate | None:
    """The estate named by ``estate`` in the query or form (404 outside the admin's estates), else the
    estate admin's own estate; None when a platform admin has not picked one yet."""
    raw = (request.values.get("estate") or "").strip()
    if raw:
        estate_id = parse_id(raw)
        if not can_see_estate(estate_id):
            abort(404)
        return db.session.get(Estate, estate_id) or abort(404)
    if current_user.is_platform_admin:
        return None
    return db.session.get(Estate, current_user.estate_id)
