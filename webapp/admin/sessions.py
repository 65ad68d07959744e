"""An admin's "sign out everywhere" for a resident (a lost phone, a shared password)."""
from __future__ import annotations

from flask import abort, flash, redirect, url_for

from webapp.admin import bp
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import scoped
from webapp.models import User
from webapp.services.identity import sessions


@bp.route("/residents/<int:user_id>/sign-out", methods=["POST"])
@needs(Right.RESIDENTS)
def resident_sign_out(user_id: int):
    resident = scoped(User, user_id)  # 404 outside the admin's estates
    if not resident.is_resident:
        abort(404)
    sessions.sign_out_everywhere(resident, by_admin=True)
    flash(f"{resident.full_name} has been signed out on every device.", "success")
    return redirect(url_for("admin.index"))
